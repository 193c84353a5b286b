// Stands in for the web app's migration container: applies the schema of the pushed commit before it is deployed.
const commit = process.argv[2] ?? "(no commit)";
console.log(`migrating the web database to the schema of ${commit}`);
await new Promise((r) => setTimeout(r, 200));
console.log("migrations applied");
