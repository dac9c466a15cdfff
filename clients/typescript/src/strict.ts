import type { DescField, DescMessage, DescOneof } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { DroidftError } from "./errors.js";

/**
 * Refuses a key that names no field of the message, at any depth, with the closest field names: from plain
 * JavaScript, `learning_rate` or a misspelling would otherwise be dropped in silence by `create`.
 */
export function checkKnownKeys(schema: DescMessage, init: unknown, path = ""): void {
  if (!isPlainObject(init)) {
    return;
  }
  const members = new Map<string, DescField | DescOneof>(schema.members.map((member) => [member.localName, member]));
  for (const [key, value] of Object.entries(init)) {
    if (key === "$typeName" || value === undefined) {
      continue;
    }
    const member = members.get(key);
    const where = path ? `${path}.${key}` : key;
    if (member === undefined) {
      throw unknownKey(where, key, [...members.keys()]);
    }
    if (member.kind === "oneof") {
      checkOneof(member, value, where);
    } else {
      checkField(member, value, where);
    }
  }
}

function checkOneof(oneof: DescOneof, value: unknown, where: string): void {
  if (!isPlainObject(value) || value.case === undefined) {
    return;
  }
  const field = oneof.fields.find((candidate) => candidate.localName === value.case);
  if (field === undefined) {
    throw unknownKey(`${where}.case`, String(value.case), oneof.fields.map((candidate) => candidate.localName));
  }
  checkField(field, value.value, `${where}.${field.localName}`);
}

function checkField(field: DescField, value: unknown, where: string): void {
  if (field.fieldKind === "message") {
    checkKnownKeys(field.message, value, where);
  } else if (field.fieldKind === "list" && field.listKind === "message" && Array.isArray(value)) {
    value.forEach((item, index) => checkKnownKeys(field.message, item, `${where}[${index}]`));
  } else if (field.fieldKind === "map" && field.mapKind === "message" && isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      checkKnownKeys(field.message, item, `${where}[${JSON.stringify(key)}]`);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !("$typeName" in value);
}

function unknownKey(where: string, key: string, known: string[]): DroidftError {
  const camel = key.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
  const close = known.includes(camel) ? [camel] : closest(key, known);
  const hint = close.length > 0 ? `; did you mean ${close.join(" or ")}?` : `; known fields: ${known.join(", ")}`;
  const description = `no field ${JSON.stringify(key)}${hint}`;
  return new DroidftError(`${where}: ${description}`, {
    code: Code.InvalidArgument,
    fieldViolations: [{ field: where, description, reason: "field.known" }],
    local: true,
  });
}

/** Known names within two edits (a third of the key's length for long keys), nearest first (at most three). */
function closest(key: string, known: string[]): string[] {
  const limit = Math.max(2, Math.ceil(key.length / 3));
  return known
    .map((name) => [name, editDistance(key.toLowerCase(), name.toLowerCase())] as const)
    .filter(([, distance]) => distance <= limit)
    .sort((a, b) => a[1] - b[1])
    .slice(0, 3)
    .map(([name]) => name);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    previous = current;
  }
  return previous[b.length];
}
