// Stands in for the web service: answers with the image (version) it was deployed as.
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 8080);
const server = createServer((_req, res) => res.end(`web ${process.env.BERTH_IMAGE ?? "initial"}\n`));
server.listen(port, "127.0.0.1", () => console.log(`web listening on ${port} as ${process.env.BERTH_IMAGE ?? "initial"}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
