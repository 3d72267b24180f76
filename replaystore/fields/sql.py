"""Small builders of sqlglot nodes shared by the field formulas and the search compiler.

They build neutral nodes; engines print them per dialect (`engines.dialects`). `DIALECT` is the
dialect the store itself computes in (summaries, views, maintenance: DuckDB).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlglot import exp

DIALECT = "duckdb"


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def attr(struct: exp.Expression, name: str) -> exp.Dot:
    """`struct.name`, e.g. a field of a lambda's struct argument."""
    return exp.Dot(this=struct.copy(), expression=exp.to_identifier(name, quoted=True))


def string(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def strings(values: Sequence[str]) -> exp.Array:
    return exp.Array(expressions=[string(v) for v in values])


def balanced(
    kind: Callable[..., exp.Expression], items: Sequence[exp.Expression]
) -> exp.Expression:
    """`a AND b AND c ...` as a balanced tree, so long queries stay shallow for the generator."""
    if len(items) == 1:
        return items[0]
    middle = len(items) // 2
    return kind(this=balanced(kind, items[:middle]), expression=balanced(kind, items[middle:]))


def _is_true(item: exp.Expression) -> bool:
    return isinstance(item, exp.Boolean) and item.this is True


def all_of(*items: exp.Expression) -> exp.Expression:
    """Conjunction; an OR operand is parenthesised, TRUE operands dropped."""
    kept = [
        exp.paren(i, copy=False) if isinstance(i, exp.Or) else i for i in items if not _is_true(i)
    ]
    return balanced(exp.And, kept) if kept else exp.true()


def any_of(*items: exp.Expression) -> exp.Expression:
    """Disjunction (AND binds tighter in SQL, so no operand needs parentheses)."""
    return balanced(exp.Or, list(items)) if items else exp.false()


def not_(item: exp.Expression) -> exp.Not:
    wrap = isinstance(item, exp.Connector | exp.Predicate | exp.Binary)
    return exp.Not(this=exp.paren(item, copy=False) if wrap else item)


def true_or_false(condition: exp.Expression) -> exp.Coalesce:
    """A NULL-free condition: NULL (nothing to compare) counts as false, so NOT stays exact."""
    return exp.Coalesce(this=condition, expressions=[exp.false()])


def non_empty(value: exp.Expression) -> exp.NEQ:
    return exp.NEQ(this=value, expression=string(""))


def some_element(
    values: exp.Expression, condition: Callable[[exp.Expression], exp.Expression]
) -> exp.Expression:
    """Some element of the list `values` satisfies `condition` (NULL list: none does)."""
    var = exp.to_identifier("x")
    matching = exp.ArrayFilter(
        this=values, expression=exp.Lambda(this=condition(var), expressions=[var.copy()])
    )
    return exp.GT(this=exp.ArraySize(this=matching), expression=exp.Literal.number(0))


def some_struct(
    values: exp.Expression,
    condition: Callable[[Callable[[str], exp.Expression]], exp.Expression],
    var_name: str,
) -> exp.Expression:
    """Some struct of the list `values` satisfies `condition(field accessor)`."""
    var = exp.to_identifier(var_name)
    body = condition(lambda name: attr(var, name))
    matching = exp.ArrayFilter(
        this=values, expression=exp.Lambda(this=body, expressions=[var.copy()])
    )
    return exp.GT(this=exp.ArraySize(this=matching), expression=exp.Literal.number(0))


def ilike(value: exp.Expression, pattern: str) -> exp.Escape:
    """`value ILIKE pattern ESCAPE '\\'` (patterns come from `values.like_pattern`)."""
    return exp.Escape(
        this=exp.ILike(this=value, expression=string(pattern)), expression=string("\\")
    )
