export * from "./client.js";
export * from "./errors.js";
export { defaultReconnectPolicy, isTerminal, type ReconnectPolicy } from "./progress.js";
export * from "./gen/droidft/v1/data_pb.js";
export * from "./gen/droidft/v1/job_pb.js";
export * from "./gen/droidft/v1/methods_pb.js";
export * from "./gen/droidft/v1/progress_pb.js";
export * from "./gen/droidft/v1/resources_pb.js";
export * from "./gen/droidft/v1/service_pb.js";
