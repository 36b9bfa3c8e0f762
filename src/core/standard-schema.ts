/**
 * The Standard Schema interface (standardschema.dev), copied as its authors intend: a type-only
 * contract that zod 4, valibot and arktype implement, so wsguard depends on none of them.
 *
 * @module
 */

/** A schema any Standard Schema library produces. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

/** Types of the Standard Schema interface. */
export declare namespace StandardSchemaV1 {
  /** The Standard Schema properties. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version of the Standard Schema interface. */
    readonly version: 1;
    /** The library that made the schema. */
    readonly vendor: string;
    /** Validate a value. */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** Inferred types (type-level only). */
    readonly types?: Types<Input, Output> | undefined;
  }
  /** A validation result. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  /** Success. */
  export interface SuccessResult<Output> {
    /** The validated (and possibly transformed) value. */
    readonly value: Output;
    /** No issues on success. */
    readonly issues?: undefined;
  }
  /** Failure. */
  export interface FailureResult {
    /** What is wrong. */
    readonly issues: ReadonlyArray<Issue>;
  }
  /** One issue. */
  export interface Issue {
    /** What is wrong with the value. */
    readonly message: string;
    /** Where in the value. */
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  /** A path segment. */
  export interface PathSegment {
    /** The key of this segment. */
    readonly key: PropertyKey;
  }
  /** Input and output types. */
  export interface Types<Input = unknown, Output = Input> {
    /** The input type. */
    readonly input: Input;
    /** The output type. */
    readonly output: Output;
  }
  /** Infer the input type. */
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['input'];
  /** Infer the output type. */
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['output'];
}
