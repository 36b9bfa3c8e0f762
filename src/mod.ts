/**
 * wsguard: the WebSocket security layer for TypeScript servers on Node, Bun and Deno.
 *
 * @example
 * ```ts
 * import { createGuard } from 'wsguard';
 *
 * const guard = createGuard({
 *   origins: ['https://app.example.com'],
 *   jwt: { algorithms: ['HS256'], secret: process.env.JWT_SECRET! },
 *   tickets: true,
 * });
 * const decision = await guard.upgrade({ request, ip });
 * ```
 *
 * @module
 */

export type { AuditEmitter, AuditEvent, AuditEventType, AuditSink } from './audit.ts';
export { createAuditEmitter, redactEvent } from './audit.ts';
export type { BodyLimits, BodyRead, BodyRefusal, JsonRead } from './body.ts';
export { DEFAULT_BODY_TIMEOUT_MS, readBody, readJson } from './body.ts';
export type {
  CloseCodeValue,
  CodeRow,
  MessageRejectReason,
  RejectMode,
  RejectReason,
} from './codes.ts';
export { CloseCode, MESSAGE_CLOSE_CODES, REJECTIONS } from './codes.ts';
export type { GuardConnection, Terminate } from './connection.ts';
export type {
  CookieSourceOptions,
  Credential,
  CredentialExtractor,
  CredentialKind,
  CredentialSource,
  CredentialSources,
  CsrfOptions,
  FirstMessageOptions,
} from './credentials.ts';
export { createCredentialExtractor, readCookie } from './credentials.ts';
export { diagnose } from './doctor.ts';
export type { GuardErrorCode } from './errors.ts';
export {
  BannedError,
  CredentialError,
  GuardConfigError,
  GuardError,
  isGuardError,
  StoreUnavailableError,
} from './errors.ts';
export type { Accept, ErrorReply, Guard, MessageDecision, Reject, UpgradeInfo } from './guard.ts';
export { createGuard } from './guard.ts';
export { checkHandshake, httpVersionOf, isWebSocketRequest, setHttpVersion } from './handshake.ts';
export type {
  ClientInfo,
  GuardedHooks,
  GuardedMessage,
  GuardHooks,
  GuardHooksOptions,
} from './hooks.ts';
export { connectionOf, guardHooks, setClient } from './hooks.ts';
export type { MetricsHandlerOptions, StatsHandlerOptions, TicketHandlerOptions } from './http.ts';
export {
  bannedResponse,
  bodyRefused,
  healthHandler,
  json,
  metricsHandler,
  SECURITY_HEADERS,
  STRICT_CSP,
  statsHandler,
  ticketHandler,
  withSecurityHeaders,
} from './http.ts';
export { DEFAULT_IPV6_PREFIX, ipKey, validateIpv6Prefix } from './ip-key.ts';
export type { Jwk, JwtAlgorithm, JwtOptions, JwtVerifier } from './jwt.ts';
export { createJwtVerifier, validateJwtOptions } from './jwt.ts';
export type {
  FrameProblem,
  MessageLimits,
  ParseResult,
  ReportedIssue,
  ValidationResult,
} from './messages.ts';
export { hasForbiddenKey, parseFrame, scanJson, validate } from './messages.ts';
export type { ErrorStage, GuardOptions, LimitOptions, MessageOptions } from './options.ts';
export { DEFAULTS } from './options.ts';
export type { OriginMatcher, OriginOptions, OriginPolicy } from './origin.ts';
export { createOriginMatcher, validateOrigins } from './origin.ts';
export type { Penalties, PenaltyOptions, PenaltyResult, Subject, Violation } from './penalties.ts';
export { createPenalties, DEFAULT_POINTS } from './penalties.ts';
export type { PermissionOptions, Permissions } from './permissions.ts';
export { createPermissions, grants } from './permissions.ts';
export type { Principal } from './principal.ts';
export { principalFromClaims } from './principal.ts';
export type { GcraStep, LimitResult, RateRule } from './rate-limit.ts';
export { gcraStep, LocalLimiter } from './rate-limit.ts';
export { redactString, redactUrl, SECRET_PARAMS } from './redact.ts';
export type { RuntimeViolation, RuntimeViolationSignals } from './runtime-violation.ts';
export type { GuardedServer, GuardedSocketOptions, ServeOptions, TlsOptions } from './serve.ts';
export type { StandardSchemaV1 } from './standard-schema.ts';
export type { CloseClass, CloseInitiator, StatsSnapshot } from './stats.ts';
export { closeClassOf, Stats } from './stats.ts';
export type { MemoryStoreOptions } from './store/memory.ts';
export { createMemoryStore } from './store/memory.ts';
export type {
  AcquireLeaseOptions,
  ChannelListener,
  LeaseResult,
  Store,
  StoreSubscription,
  TakenValue,
} from './store/types.ts';
export type {
  IssuedTicket,
  IssueTicketOptions,
  RedeemContext,
  TicketOptions,
  Tickets,
} from './tickets.ts';
export { createTickets, DEFAULT_TICKET_TTL_MS, MAX_TICKET_TTL_MS } from './tickets.ts';
export type {
  ClientAddress,
  ForwardedHeader,
  ProxyTrust,
  ProxyTrustOptions,
} from './trusted-proxy.ts';
export { canonicalIp, createProxyTrust, UNKNOWN_CLIENT } from './trusted-proxy.ts';
