/** Errors the SDK reports: the server's problem+json, or a network failure (status 0). */

export interface Problem {
  type?: unknown;
  title?: unknown;
  detail?: unknown;
  status?: unknown;
}

export class FrontDeskError extends Error {
  readonly status: number;
  /** The problem type, e.g. `/problems/identity-required`. */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** Seconds to wait before retrying, from `Retry-After` (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(status: number, type: string, title: string, detail = "", retryAfter?: number) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = "FrontDeskError";
    this.status = status;
    this.type = type;
    this.title = title;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }

  /** The last segment of `type`: `identity-required`, `conversation-moved`, `network`… */
  get code(): string {
    return this.type.slice(this.type.lastIndexOf("/") + 1);
  }

  /** Worth trying again later: the network, a rate limit or the server's trouble. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

const text = (value: unknown, fallback: string): string =>
  typeof value === "string" && value ? value.slice(0, 500) : fallback;

/** The error of a failed response: its problem+json when it has one. */
export async function errorFromResponse(response: Response): Promise<FrontDeskError> {
  let problem: Problem = {};
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object") problem = body as Problem;
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const seconds = Number(response.headers.get("retry-after"));
  return new FrontDeskError(
    response.status,
    text(problem.type, `/problems/http-${response.status}`),
    text(problem.title, response.statusText || `HTTP ${response.status}`),
    text(problem.detail, ""),
    Number.isFinite(seconds) && seconds > 0 ? seconds : undefined,
  );
}

export const networkError = (cause: unknown): FrontDeskError =>
  cause instanceof FrontDeskError
    ? cause
    : new FrontDeskError(0, "/problems/network", "Network error", String((cause as Error)?.message ?? cause));
