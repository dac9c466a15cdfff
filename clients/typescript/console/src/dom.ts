// The page's small DOM helpers and its one status line, shared by its parts.
import { DroidftError } from "../../src/index.js";

export const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    element.setAttribute(key, value);
  }
  element.append(...children);
  return element;
}

export function showError(error: unknown): void {
  const status = byId("status");
  if (error instanceof DroidftError) {
    if (error.codeName === "Unauthenticated") {
      byId("token-area").hidden = false;
    }
    const fields = error.fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ");
    status.textContent = `${error.codeName}${error.reason ? ` (${error.reason})` : ""}: ${error.message}${fields && !error.message.includes(fields) ? ` — ${fields}` : ""}`;
  } else {
    status.textContent = String(error);
  }
}

export function clearError(): void {
  byId("status").textContent = "";
}

export function bytes(n: bigint | number): string {
  const value = Number(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = value;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
