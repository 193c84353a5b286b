// Stands in for an image scanner run on every ECR push.
console.log(`scanning ${process.env.REPOSITORY}:${process.env.IMAGE_TAG}`);
await new Promise((r) => setTimeout(r, 200));
console.log("no findings");
