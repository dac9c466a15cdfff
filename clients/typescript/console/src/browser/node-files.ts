// The client's file transfers (upload, download, export to a local folder) need a file system, which a page
// does not have: in the console's bundle these stand-ins take the place of Node's modules and say so if called.
function unavailable(name: string): never {
  throw new Error(`${name} needs Node's file system: the web console does not transfer local files`);
}

export const stat = (..._: unknown[]) => unavailable("stat");
export const open = (..._: unknown[]) => unavailable("open");
export const mkdir = (..._: unknown[]) => unavailable("mkdir");
export const rename = (..._: unknown[]) => unavailable("rename");
export const unlink = (..._: unknown[]) => unavailable("unlink");
export const createReadStream = (..._: unknown[]) => unavailable("createReadStream");
export const createHash = (..._: unknown[]) => unavailable("createHash");
export const basename = (path: string) => path.slice(path.lastIndexOf("/") + 1);
export const dirname = (path: string) => path.slice(0, Math.max(path.lastIndexOf("/"), 0));
export const join = (...parts: string[]) => parts.join("/");
export const relative = (..._: unknown[]) => unavailable("relative");
