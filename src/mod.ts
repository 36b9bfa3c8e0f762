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

export type { JwtVerifier } from './auth/jwt.ts';
export { createJwtVerifier } from './auth/jwt.ts';
export type { Jwk, JwtAlgorithm, JwtOptions } from './auth/jwt-options.ts';
export { validateJwtOptions } from './auth/jwt-options.ts';
export type { PermissionOptions, Permissions } from './auth/permissions.ts';
export { createPermissions, grants } from './auth/permissions.ts';
export type { Principal } from './auth/principal.ts';
export { principalFromClaims } from './auth/principal.ts';
export type {
  IssuedTicket,
  IssueTicketOptions,
  RedeemContext,
  TicketOptions,
  Tickets,
} from './auth/tickets.ts';
export { createTickets, DEFAULT_TICKET_TTL_MS, MAX_TICKET_TTL_MS } from './auth/tickets.ts';
export type {
  CloseCodeValue,
  CodeRow,
  MessageRejectReason,
  RejectMode,
  RejectReason,
} from './core/codes.ts';
export { CloseCode, MESSAGE_CLOSE_CODES, REJECTIONS } from './core/codes.ts';
export type { GuardErrorCode } from './core/errors.ts';
export {
  BannedError,
  CredentialError,
  GuardConfigError,
  GuardError,
  isGuardError,
  StoreUnavailableError,
} from './core/errors.ts';
export { FeedErrorCode, type FeedErrorCodeValue } from './core/feed-error-codes.ts';
export { canonicalIp } from './core/ip-address.ts';
export type { GcraStep, LimitResult, RateRule } from './core/rate-limit.ts';
export { gcraStep, LocalLimiter } from './core/rate-limit.ts';
export type { RuntimeViolation, RuntimeViolationSignals } from './core/runtime-violation.ts';
export type { StandardSchemaV1 } from './core/standard-schema.ts';
export type {
  FrameProblem,
  MessageLimits,
  ParseResult,
  ReportedIssue,
  ValidationResult,
} from './frames/parse.ts';
export { hasForbiddenKey, parseFrame, scanJson, validate } from './frames/parse.ts';
export { createGuard } from './guard/create-guard.ts';
export { diagnose } from './guard/doctor.ts';
export type { GuardHealth } from './guard/health.ts';
export type { GuardOptions, LimitOptions, MessageOptions } from './guard/options.ts';
export { DEFAULTS } from './guard/options.ts';
export type {
  Accept,
  ClientInfo,
  ErrorReply,
  Guard,
  GuardedHooks,
  GuardedMessage,
  GuardHooks,
  GuardHooksOptions,
  HookResult,
  MessageDecision,
  Reject,
  ShutdownOptions,
  UpgradeInfo,
} from './guard/types.ts';
export type {
  CookieSourceOptions,
  Credential,
  CredentialExtractor,
  CredentialKind,
  CredentialSource,
  CredentialSources,
  CsrfOptions,
  FirstMessageOptions,
} from './handshake/credentials.ts';
export { createCredentialExtractor, readCookie } from './handshake/credentials.ts';
export type { OriginMatcher, OriginOptions, OriginPolicy } from './handshake/origin.ts';
export { createOriginMatcher, validateOrigins } from './handshake/origin.ts';
export {
  checkHandshake,
  httpVersionOf,
  isWebSocketRequest,
  setHttpVersion,
} from './handshake/request-shape.ts';
export type {
  ClientAddress,
  ForwardedHeader,
  ProxyTrust,
  ProxyTrustOptions,
} from './handshake/trusted-proxy.ts';
export { createProxyTrust, UNKNOWN_CLIENT } from './handshake/trusted-proxy.ts';
export type { AuditEmitter, AuditEvent, AuditEventType, AuditSink } from './observability/audit.ts';
export { createAuditEmitter, redactEvent } from './observability/audit.ts';
export { redactString, redactUrl, SECRET_PARAMS } from './observability/redact.ts';
export type { ErrorStage } from './observability/report.ts';
export type { CloseClass, CloseInitiator, StatsSnapshot } from './observability/stats.ts';
export { closeClassOf, Stats } from './observability/stats.ts';
export type { GuardConnection, Terminate } from './state/connection.ts';
export { DEFAULT_IPV6_PREFIX, ipKey, validateIpv6Prefix } from './state/ip-key.ts';
export type {
  Penalties,
  PenaltyOptions,
  PenaltyResult,
  Subject,
  Violation,
} from './state/penalties.ts';
export { createPenalties, DEFAULT_POINTS } from './state/penalties.ts';
export type {
  AcquireLeaseOptions,
  ChannelListener,
  LeaseResult,
  Store,
  StoreSubscription,
  TakenValue,
} from './store/contract.ts';
export type { MemoryStoreOptions } from './store/memory.ts';
export { createMemoryStore } from './store/memory.ts';
export type { BodyLimits, BodyRead, BodyRefusal, JsonRead } from './transport/body.ts';
export { DEFAULT_BODY_TIMEOUT_MS, readBody, readJson } from './transport/body.ts';
export { guardHooks } from './transport/hooks.ts';
export type { MetricsHandlerOptions, StatsHandlerOptions } from './transport/http.ts';
export {
  bannedResponse,
  bodyRefused,
  healthHandler,
  json,
  metricsHandler,
  readinessHandler,
  SECURITY_HEADERS,
  STRICT_CSP,
  statsHandler,
  withSecurityHeaders,
} from './transport/http.ts';
export type {
  GuardedServer,
  GuardedSocketOptions,
  ServeOptions,
  TlsOptions,
} from './transport/serve.ts';
export { connectionOf, setClient } from './transport/slots.ts';
export { type TicketHandlerOptions, ticketHandler } from './transport/ticket-route.ts';
