import { once } from "node:events";
import { createServer, connect, type Socket } from "node:net";

/** A TCP proxy in front of the server whose connections a test can cut, as a flaky network would. */
export interface CuttableProxy {
  readonly address: string;
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** Destroys every open connection; new ones are still accepted. */
  readonly cut: () => void;
  readonly close: () => Promise<void>;
}

export async function startProxy(target: string): Promise<CuttableProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((downstream) => {
    accepted += 1;
    const upstream = connect(port, host);
    for (const [socket, peer] of [[downstream, upstream], [upstream, downstream]] as const) {
      open.add(socket);
      socket.pipe(peer);
      socket.on("error", () => peer.destroy());
      socket.on("close", () => {
        open.delete(socket);
        peer.destroy();
      });
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error("proxy has no TCP address");
  }
  const cut = () => open.forEach((socket) => socket.destroy());
  return {
    address: `127.0.0.1:${address.port}`,
    connections: () => accepted,
    cut,
    close: async () => {
      cut();
      server.close();
      await once(server, "close");
    },
  };
}
