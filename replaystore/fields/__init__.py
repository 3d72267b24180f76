"""The field registry (see docs/architecture.md): every fact about a field, once.

It sits under every stage and imports none of them. `schema` holds the stored columns,
`registry` the search and sort fields, `clicks` the clicked-element attributes, `summary`
and `reference` the two independent formulas of each per-replay number, `sources` how
values are reached in either source, `viewers` the viewed-by condition, `shape` the
response objects, `sentry` Sentry's constants and `sql` the neutral sqlglot builders.
"""
