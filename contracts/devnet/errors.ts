/**
 * Errors the devnet answers with. An `ApiError` becomes toncenter's error envelope,
 * `{ok: false, error, code}`, with `code` as the HTTP status too.
 */

/** A request the devnet refuses or cannot serve; `code` is the HTTP status. */
export class ApiError extends Error {
    constructor(
        readonly code: number,
        message: string,
    ) {
        super(message);
    }
}

/** 400: the request is malformed (bad BOC, bad number, missing parameter). */
export function badRequest(message: string): ApiError {
    return new ApiError(400, message);
}

/** Toncenter's answer to an address it cannot parse. */
export function incorrectAddress(): ApiError {
    return new ApiError(416, 'Incorrect address');
}

/** The message of any thrown value, for logs and error answers. */
export function errorMessage(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}
