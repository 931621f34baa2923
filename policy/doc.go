// Package policy parses and evaluates access policies in the IAM policy
// language, as S3 bucket policies and IAM identity policies use it.
//
// # Language
//
// A policy is a JSON document of at most MaxSize (20 KiB) bytes:
//
//	{"Version": "2012-10-17", "Id": "...", "Statement": [ statement, ... ]}
//
// Statement may be a single object. Each statement has an optional Sid, an
// Effect ("Allow" or "Deny"), exactly one of Principal and NotPrincipal
// (bucket policies) or neither (identity policies, Parse with Identity),
// exactly one of Action and NotAction, exactly one of Resource and
// NotResource, and an optional Condition. Every list may be a single
// string.
//
// Principals: "*" or {"AWS": "*"} (everyone, anonymous requests
// included), {"AWS": "arn:aws:iam::TENANT:root"} or {"AWS": "TENANT"}
// (every user of that tenant), {"AWS": "arn:aws:iam::TENANT:user/NAME"}
// (one user). Tenants are Vaultaire's accounts: the account id of an ARN
// is the tenant id.
//
// Actions are "s3:Name" (case-insensitive, Name one of KnownActions) or
// patterns with * and ? that match at least one known action, or "*".
// Resources are "*" or "arn:aws:s3:::bucket[/key]" with * and ?
// (case-sensitive), and may use the policy variables ${aws:username},
// ${aws:userid}, ${aws:PrincipalAccount} and ${*}, ${?}, ${$}.
//
// Conditions: {"Operator": {"key": value or [values]}}. Operators:
// StringEquals, StringNotEquals, StringEqualsIgnoreCase,
// StringNotEqualsIgnoreCase, StringLike, StringNotLike, NumericEquals,
// NumericNotEquals, NumericLessThan, NumericLessThanEquals,
// NumericGreaterThan, NumericGreaterThanEquals, DateEquals, DateNotEquals,
// DateLessThan, DateLessThanEquals, DateGreaterThan, DateGreaterThanEquals,
// Bool, IpAddress, NotIpAddress, ArnEquals, ArnNotEquals, ArnLike,
// ArnNotLike, each also with the IfExists suffix, and Null. Keys are
// case-insensitive and must be one of KnownKeys or
// s3:ExistingObjectTag/<tag>, s3:RequestObjectTag/<tag>. Values are
// checked when the policy is parsed (numbers, dates, CIDRs, booleans), so
// a policy that parses evaluates without errors.
//
// # Evaluation
//
// As AWS documents it: a statement applies when its principal, action,
// resource and every condition match. An applicable Deny anywhere wins;
// else an applicable Allow allows; else the answer is NotApplicable (an
// implicit deny, which callers combine with other policies). Within one
// operator, several values of one key are ORed (for the negated operators
// StringNot*, NumericNotEquals, DateNotEquals, NotIpAddress, Arn*Not*:
// none may match); several keys and several operators are ANDed. A key
// absent from the request makes a positive operator false and a negated
// one true; with IfExists an absent key makes the condition true. Null
// with "true" holds when the key is absent.
//
// Parse returns an error wrapping ErrMalformed whose message says what is
// wrong (the s3 package answers MalformedPolicy with it).
package policy
