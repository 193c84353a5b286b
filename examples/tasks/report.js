// Stands in for the report container: summarizes the backup run that just succeeded.
console.log(`report for backup run ${process.env.BACKUP_RUN}`);
await new Promise((r) => setTimeout(r, 200));
console.log("report sent");
