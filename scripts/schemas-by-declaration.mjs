// An esbuild plugin for the handler bundles: the schema module of an AWS SDK client whose commands are split between
// chunks (`@aws-sdk/client-ecs/dist-es/schemas/schemas_0.js`, every shape of the service in one generated file)
// becomes one module per top-level declaration, behind a module that re-exports them (`export *`, which esbuild
// follows export by export when it splits, where `export { … } from` would tie every one of them to the chunk of
// the re-exporting module).
//
// Why: esbuild splits code into chunks by module. In one module, the schemas of the ECS commands only the service
// deployer sends would sit with those of RunTask in the chunk every cold start loads; one module each, they go
// into the deployer's chunk with it (scripts/build.mjs). A bundle that is not split comes out the same, only
// hoisted in another order. Parsing is TypeScript's.
//
// The file's shape, checked as it is read, so that an SDK that changes it fails the build instead of a handler:
// - `import { a, b } from "…"` of named bindings;
// - `const _A = "Attachment"`, `var X$ = [3, n0, _X, 0, [...], [() => Y$, ...]]`, `export var …`: declarations
//   whose initializers refer to other shapes directly or through thunks (`() => Y$`, functions without
//   parameters). Only thunks may go round in a cycle: nothing a declaration uses directly leads back to it, so
//   every module's direct dependencies are evaluated before it however esbuild orders the modules of a cycle;
// - `n0_registry.registerError(X$, X)`: a call on a declared name, which goes into that name's module, so the
//   registry holds every error of the service as soon as anything uses it (the client's protocol does).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import ts from "typescript";


function fail(file, node, source, what) {
  const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
  throw new Error(`${file}:${line + 1}: ${what}; scripts/schemas-by-declaration.mjs reads the SDK's generated schema files and needs updating for this one`);
}

/** The top-level names an expression refers to: directly, or from inside a thunk. */
function references(expression, names, source, file) {
  const direct = new Set();
  const lazy = new Set();
  const visit = (node, inThunk) => {
    if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
      if (node.parameters.length > 0) fail(file, node, source, "a function with parameters");
      ts.forEachChild(node, (child) => visit(child, true));
      return;
    }
    if (ts.isIdentifier(node) && names.has(node.text)) {
      const parent = node.parent;
      const isPropertyName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) || ((ts.isPropertyAssignment(parent) || ts.isMethodDeclaration(parent)) && parent.name === node);
      if (!isPropertyName) (inThunk ? lazy : direct).add(node.text);
    }
    ts.forEachChild(node, (child) => visit(child, inThunk));
  };
  visit(expression, false);
  return { direct, lazy };
}

/** The file cut into declaration modules: their contents by file name, those the file exported, and the specifiers it imports. */
export function splitSchemaFile(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const imported = new Map(); // local name → { name, from }
  const declarations = []; // { names, text, exported, statements: [], direct, lazy }
  const declaredIn = new Map(); // name → index into declarations
  const pendingCalls = [];

  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const bindings = statement.importClause?.namedBindings;
      if (!statement.importClause || statement.importClause.name || !bindings || !ts.isNamedImports(bindings)) fail(file, statement, source, "an import other than named bindings");
      for (const e of bindings.elements) imported.set(e.name.text, { name: (e.propertyName ?? e.name).text, from: statement.moduleSpecifier.text });
    } else if (ts.isVariableStatement(statement)) {
      const modifiers = statement.modifiers ?? [];
      if (modifiers.some((m) => m.kind !== ts.SyntaxKind.ExportKeyword)) fail(file, statement, source, "a declaration with modifiers other than export");
      const names = statement.declarationList.declarations.map((d) => {
        if (!ts.isIdentifier(d.name) || !d.initializer) fail(file, d, source, "a declaration that is not `name = value`");
        return d.name.text;
      });
      const keyword = text.slice(statement.declarationList.getStart(source), statement.declarationList.declarations[0].getStart(source)).trim();
      const body = text.slice(statement.declarationList.declarations[0].getStart(source), statement.getEnd()).replace(/;?\s*$/, ";");
      for (const name of names) declaredIn.set(name, declarations.length);
      declarations.push({ node: statement, names, exported: modifiers.length > 0, text: `export ${keyword} ${body}`, calls: [] });
    } else if (ts.isExpressionStatement(statement)) {
      const call = statement.expression;
      if (!ts.isCallExpression(call) || !ts.isPropertyAccessExpression(call.expression) || !ts.isIdentifier(call.expression.expression)) fail(file, statement, source, "a statement other than a call on a declared name");
      pendingCalls.push(statement);
    } else {
      fail(file, statement, source, `a top-level ${ts.SyntaxKind[statement.kind]}`);
    }
  }
  const topLevel = new Set([...declaredIn.keys(), ...imported.keys()]);
  for (const statement of pendingCalls) {
    const owner = declaredIn.get(statement.expression.expression.expression.text);
    if (owner === undefined) fail(file, statement, source, "a call on a name the file does not declare");
    declarations[owner].calls.push(statement);
  }

  for (const [i, d] of declarations.entries()) {
    const direct = new Set();
    const lazy = new Set();
    for (const node of [...d.node.declarationList.declarations.map((x) => x.initializer), ...d.calls]) {
      const r = references(node, topLevel, source, file);
      for (const n of r.direct) direct.add(n);
      for (const n of r.lazy) lazy.add(n);
    }
    for (const n of d.names) {
      direct.delete(n);
      lazy.delete(n);
    }
    Object.assign(d, { index: i, direct, lazy });
  }
  // No direct use inside a cycle: then every module's direct dependencies are evaluated before it, however esbuild
  // orders the modules of a cycle (strongly connected components, Tarjan).
  const component = new Array(declarations.length);
  const edges = declarations.map((d) => [...d.direct, ...d.lazy].filter((n) => declaredIn.has(n)).map((n) => declaredIn.get(n)));
  const order = new Array(declarations.length);
  const low = new Array(declarations.length);
  const stack = [];
  let counter = 0;
  const connect = (i) => {
    order[i] = low[i] = counter++;
    stack.push(i);
    for (const j of edges[i]) {
      if (order[j] === undefined) {
        connect(j);
        low[i] = Math.min(low[i], low[j]);
      } else if (component[j] === undefined) low[i] = Math.min(low[i], order[j]);
    }
    if (low[i] === order[i]) {
      let j;
      do {
        j = stack.pop();
        component[j] = i;
      } while (j !== i);
    }
  };
  for (let i = 0; i < declarations.length; i++) if (order[i] === undefined) connect(i);
  for (const d of declarations) {
    for (const n of d.direct) {
      if (declaredIn.has(n) && component[declaredIn.get(n)] === component[d.index]) fail(file, d.node, source, `${d.names[0]} uses ${n} directly, and ${n} leads back to it`);
    }
  }

  // Declaration `i` is `./<i>.js`; the file's own imports go to `resolved` (specifier → absolute path).
  const modules = new Map();
  for (const d of declarations) {
    const lines = [];
    const byModule = new Map();
    for (const n of [...d.direct, ...d.lazy].sort()) {
      const from = imported.has(n) ? imported.get(n).from : `./${declaredIn.get(n)}.js`;
      const spec = imported.has(n) && imported.get(n).name !== n ? `${imported.get(n).name} as ${n}` : n;
      byModule.set(from, [...(byModule.get(from) ?? []), spec]);
    }
    for (const [from, names] of byModule) lines.push(`import { ${names.join(", ")} } from ${JSON.stringify(from)};`);
    lines.push(d.text, ...d.calls.map((c) => c.getText(source)));
    modules.set(`${d.index}.js`, lines.join("\n") + "\n");
  }
  const facade = declarations.filter((d) => d.exported).map((d) => `${d.index}.js`);
  return { facade, modules, specifiers: [...new Set([...imported.values()].map((i) => i.from))] };
}

/**
 * The declaration modules are files, written once into node_modules/.cache (esbuild reads files itself, in
 * parallel; a module a plugin hands it costs a round trip to this process each), beside a package.json that
 * says they have no side effects, as the client's own says of the file. The file's imports are resolved as
 * esbuild resolves them from the file, so each declaration module imports what the file imported.
 */
const written = new Map();

async function writeSplit(b, file) {
  const text = readFileSync(file, "utf8");
  const split = splitSchemaFile(file, text);
  const resolved = new Map();
  for (const specifier of split.specifiers) {
    const r = await b.resolve(specifier, { resolveDir: dirname(file), kind: "import-statement" });
    if (r.errors.length > 0) throw new Error(`${file}: cannot resolve ${specifier}`);
    resolved.set(specifier, r.path);
  }
  const client = /[\\/]@aws-sdk[\\/](client-[a-z0-9-]+)[\\/]/.exec(file)[1];
  const hash = createHash("sha256").update(text).update(JSON.stringify([...resolved])).digest("hex").slice(0, 16);
  const dir = join(file.slice(0, file.lastIndexOf("node_modules") + "node_modules".length), ".cache", "berth-schemas", `${client}-${hash}`);
  if (!existsSync(join(dir, "package.json"))) {
    const temporary = `${dir}.${process.pid}.tmp`;
    rmSync(temporary, { recursive: true, force: true });
    mkdirSync(temporary, { recursive: true });
    for (const [name, contents] of split.modules) {
      writeFileSync(join(temporary, name), contents.replace(/ from "([^"]+)";$/gm, (line, from) => (resolved.has(from) ? ` from ${JSON.stringify(resolved.get(from))};` : line)));
    }
    writeFileSync(join(temporary, "package.json"), JSON.stringify({ type: "module", sideEffects: false }) + "\n");
    try {
      renameSync(temporary, dir);
    } catch (e) {
      // Another build wrote the same split first.
      rmSync(temporary, { recursive: true, force: true });
      if (!existsSync(join(dir, "package.json"))) throw e;
    }
  }
  return split.facade.map((name) => `export * from ${JSON.stringify(join(dir, name))};`).join("\n") + "\n";
}

/** The plugin, for the schema modules of `clients` (package names, `@aws-sdk/client-ecs`). */
export function schemasByDeclaration(clients) {
  const names = clients.map((c) => c.replace(/^@aws-sdk\//, "").replace(/[^a-z0-9-]/g, ""));
  const filter = new RegExp(`[\\\\/]@aws-sdk[\\\\/](?:${names.join("|")})[\\\\/]dist-es[\\\\/]schemas[\\\\/]schemas_\\d+\\.js$`);
  return {
    name: "schemas-by-declaration",
    setup(b) {
      b.onLoad({ filter }, async (args) => {
        if (!written.has(args.path)) written.set(args.path, writeSplit(b, args.path));
        return { contents: await written.get(args.path), loader: "js" };
      });
    },
  };
}
