import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".berth/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: Object.fromEntries(
        ["process", "console", "URL", "Buffer", "fetch", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "AbortController", "TextEncoder", "TextDecoder"].map((g) => [g, "readonly"]),
      ),
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // The core is pure: no IO, no clock, no SDK. Time, ids and randomness arrive as parameters.
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["@aws-sdk/*", "node:*", "fs", "path", "child_process", "http", "https", "net", "os", "crypto"], message: "src/core is pure: do IO in src/aws or src/local and pass results in." },
            { group: ["../aws/*", "../local/*", "../cli/*", "../../aws/*", "../../local/*", "../../cli/*"], message: "src/core must not depend on a shell." },
          ],
        },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "pass `now` in: the core has no clock." },
        { object: "Math", property: "random", message: "pass randomness in: the core is deterministic." },
      ],
      "no-restricted-globals": ["error", { name: "process", message: "the core reads no environment." }],
    },
  },
);
