// The ccscope API, as the dashboard uses it. Same origin; every request carries the launch
// token as `Authorization: Bearer`. The token comes from the launch URL (`/?token=…`), is kept
// in this tab's sessionStorage (scoped to this origin, port included: unlike a cookie, no other
// server on 127.0.0.1 ever receives it) and leaves the address bar at once.

import type { EventDoc, SessionDoc, TimelineEvent } from "./generated/api";

const TOKEN_KEY = "ccscope.launch-token";

function takeLaunchToken(): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    history.replaceState(history.state, "", `${url.pathname}${url.search}${url.hash}`);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** The launch token, or null when this tab was not opened from the launch URL. */
export const launchToken: string | null = takeLaunchToken();

/** Headers that authenticate a request. */
export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return launchToken ? { ...extra, authorization: `Bearer ${launchToken}` } : extra;
}

/** fetch() with the launch token and no cookies. */
export function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, credentials: "omit", headers: authHeaders((init.headers as Record<string, string>) ?? {}) });
}

export class ApiError extends Error {
  constructor(public status: number, message: string, public code?: string) {
    super(message);
  }
}

async function check(response: Response): Promise<Response> {
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  let code: string | undefined;
  try {
    const text = await response.text();
    try {
      // Errors cross as {code, message}.
      const body = JSON.parse(text) as { code?: string; message?: string };
      if (body.message) message = body.message;
      code = body.code;
    } catch {
      if (text) message = text;
    }
  } catch {
    /* keep the status line */
  }
  throw new ApiError(response.status, message, code);
}

export async function getJson<T>(path: string, params?: URLSearchParams): Promise<T> {
  const url = params ? `${path}?${params.toString()}` : path;
  const response = await check(await apiFetch(url));
  return (await response.json()) as T;
}

export async function postJson<T>(path: string): Promise<T> {
  const response = await check(await apiFetch(path, { method: "POST" }));
  return (await response.json()) as T;
}

/**
 * POST a JSON body to a route that answers with an outcome `{status, message, …}` whatever
 * happened (the settings helper's apply and restore): a refusal or failure has its own HTTP
 * status and still comes back as its outcome; any other error is thrown.
 */
export async function sendForOutcome<T extends { status: string }>(path: string, body: unknown): Promise<T> {
  const response = await apiFetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) {
    const text = await response.clone().text();
    try {
      const outcome = JSON.parse(text) as Partial<T>;
      if (typeof outcome.status === "string") return outcome as T;
    } catch {
      /* not an outcome: reported below */
    }
  }
  return (await (await check(response)).json()) as T;
}

/** POST a JSON body; the answer is JSON. */
export async function sendJson<T>(path: string, body: unknown): Promise<T> {
  const response = await check(
    await apiFetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  );
  return (await response.json()) as T;
}

export async function getText(path: string, params?: URLSearchParams): Promise<string> {
  const url = params ? `${path}?${params.toString()}` : path;
  const response = await check(await apiFetch(url));
  return response.text();
}

/** Fetches what a download button saves (a link cannot: it needs the token header). */
/** POSTs `body` as JSON and returns the file the server answers with. */
export async function postDownload(path: string, body: unknown): Promise<Blob> {
  const response = await check(
    await apiFetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  );
  return response.blob();
}

export async function fetchDownload(path: string): Promise<Blob> {
  const response = await check(await apiFetch(path));
  return response.blob();
}

/**
 * The live feed (`/api/stream`, server-sent events) read through fetch so that it carries the
 * token header (EventSource cannot). Calls `onEvent` with each event's name; reconnects after
 * a pause when the stream ends, calling `onState` with whether it is connected.
 */
export function liveFeed(onEvent: (name: string) => void, onState: (connected: boolean) => void): void {
  const connect = async (): Promise<void> => {
    try {
      const response = await check(await apiFetch("/api/stream", { headers: { accept: "text/event-stream" } }));
      const body = response.body;
      if (!body) throw new Error("no stream");
      onState(true);
      const reader = body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        let end: number;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const name = block
            .split("\n")
            .find((line) => line.startsWith("event:"))
            ?.slice("event:".length)
            .trim();
          if (name) onEvent(name);
        }
      }
    } catch {
      /* reconnect below */
    }
    onState(false);
    window.setTimeout(() => void connect(), 2000);
  };
  void connect();
}

// The API's shapes, generated from the server's Rust types (crates/server/src/dto.rs).
export type { BudgetInfo, EventPage, FleetInfo, FleetRow, LiveCommit, Overview, PromptGroup, PromptTraceDoc, ReceiverInfo, SetupPreview, SetupResult, SourceInfo, SpanDoc, Timeline, Tokens, Totals, TraceView } from "./generated/api";
export type SessionItem = SessionDoc;

/** An event as listed; on a timeline, with what the server joined to it. */
export type EventItem = EventDoc & Partial<Omit<TimelineEvent, keyof EventDoc>>;



