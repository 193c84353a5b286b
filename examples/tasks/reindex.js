// Stands in for the reindexer: rebuilds a search index.
const args = process.argv.slice(2);
const index = args[args.indexOf("--index") + 1];
console.log(`reindexing ${index} with ${args[args.indexOf("--shards") + 1]} shards`);
await new Promise((r) => setTimeout(r, 300));
console.log("done");
