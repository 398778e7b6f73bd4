"""Metric SQL: what a user may write, checked over the whole tree before anything runs it.

A metric's SQL is one SELECT (CTEs and set operations allowed) over a relation named
`filtered_events` that Tallyhouse has already limited to one organization, one customer and
one timeframe. Everything else is refused: other tables, schemas and catalogs, table
functions (file readers), statements that are not queries (also inside CTEs), parameters,
and any function not on the allow-list below. What runs is the tree rendered again by the
parser, never the text as sent, so comments and tricks in the text do not reach DuckDB.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.scope import traverse_scope

FILTERED_EVENTS = "filtered_events"
# The RELATIVE timeframes (days ending at the build's as-of instant) a build pre-computes for
# each indexed metric and customer, beside ALL and each calendar month; the API reads these.
PRECOMPUTED_DAYS = (7, 30, 90)
MAX_SQL_LENGTH = 10_000
# How deep the parsed query may nest (brackets, operators, CASE, subqueries): far beyond any
# metric people write, and shallow enough that every later step, wherever it runs, walks it
# without exhausting the stack (docs/reliability.md#limits).
MAX_DEPTH = 64

# filtered_events: the columns a metric's SQL can read, their types, and what they hold
FILTERED_EVENTS_COLUMNS = {
    "event_id": "varchar",  # the event's id (evt_…)
    "customer_id": "varchar",  # the end user (the event's userId)
    "event_name": "varchar",  # the event's eventType
    "metric_name": "varchar",  # the event's metricName
    "event_value": "decimal(18, 6)",  # the event's quantity
    "event_string": "varchar",  # the event's string value (body field `value`)
    "properties": "json",  # the event's metadata
    "timestamp": "timestamp",  # when the event happened (UTC)
    "cost_usd": "decimal(38, 18)",  # the event's cost as the warehouse priced it
}

# Functions by sqlglot's expression class: aggregates, windows, arithmetic, strings, dates, JSON.
_ALLOWED_FUNCTIONS = {
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.CountIf, exp.ApproxDistinct,
    exp.Median, exp.Quantile, exp.PercentileCont, exp.PercentileDisc, exp.Stddev, exp.StddevPop,
    exp.StddevSamp, exp.Variance, exp.VariancePop, exp.AnyValue, exp.ArgMax, exp.ArgMin,
    exp.First, exp.Last, exp.LogicalAnd, exp.LogicalOr, exp.RowNumber, exp.Rank,
    exp.DenseRank, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue,
    exp.PercentRank, exp.CumeDist, exp.Ntile, exp.Abs, exp.Round, exp.Floor, exp.Ceil,
    exp.Sqrt, exp.Pow, exp.Ln, exp.Log, exp.Exp, exp.Sign, exp.Greatest, exp.Least,
    exp.Coalesce, exp.Nullif, exp.If, exp.Cast, exp.TryCast, exp.Lower, exp.Upper,
    exp.Length, exp.Substring, exp.Concat, exp.ConcatWs, exp.Trim, exp.Left, exp.Right,
    exp.StrPosition, exp.RegexpLike, exp.RegexpExtract, exp.Split, exp.DateTrunc,
    exp.TimestampTrunc, exp.Extract, exp.DateDiff, exp.DateAdd, exp.DateSub,
    exp.TimestampDiff, exp.TimestampAdd, exp.TimestampSub, exp.Date, exp.TsOrDsToDate,
    exp.StrToTime, exp.TimeToStr, exp.UnixToTime, exp.TimeToUnix, exp.DayOfWeek,
    exp.DayOfMonth, exp.DayOfYear, exp.WeekOfYear, exp.Month, exp.Year, exp.Quarter,
    exp.JSONExtract, exp.JSONExtractScalar, exp.ParseJSON, exp.Array, exp.ArrayAgg,
    exp.ArraySize, exp.Interval, exp.SafeDivide, exp.IntDiv, exp.Mod, exp.And, exp.Or, exp.Xor,
    exp.Case, exp.Exists, exp.Corr, exp.ArrayContains,
}  # fmt: skip
# Functions sqlglot does not model, by name (lower case).
_ALLOWED_NAMES = {
    "date_part", "datepart", "epoch", "epoch_ms", "strftime", "json_extract_string",
    "json_extract", "list_count", "len", "count_star", "fsum", "sumkahan", "product", "mode",
    "entropy", "kurtosis", "skewness", "bit_count", "hash", "isfinite", "isnan", "isinf",
    "to_days", "to_hours", "to_minutes", "to_seconds", "make_date", "make_timestamp",
}  # fmt: skip
# Nodes that are never part of a query, wherever they appear (e.g. in a CTE).
_FORBIDDEN_NODES = (
    exp.DML,
    exp.DDL,
    exp.Command,
    exp.Pragma,
    exp.Set,
    exp.Copy,
    exp.Use,
    exp.Describe,
    exp.Into,
    exp.Lock,
    exp.Placeholder,
    exp.Parameter,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
)


class MetricSqlError(ValueError):
    """The SQL is refused; the message says why, for the person who wrote it."""


def validate(sql: str) -> exp.Query:
    """The parsed query, or MetricSqlError saying what is not allowed."""
    if not isinstance(sql, str) or not sql.strip():
        raise MetricSqlError("sqlDefinition is empty")
    if len(sql) > MAX_SQL_LENGTH:
        raise MetricSqlError(f"sqlDefinition is longer than {MAX_SQL_LENGTH} characters")
    if any(not ch.isprintable() and ch not in "\n\r\t" for ch in sql):
        raise MetricSqlError("sqlDefinition contains control or invisible characters")
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except (ParseError, TokenError) as error:
        raise MetricSqlError(f"sqlDefinition does not parse: {_first_line(error)}") from None
    except RecursionError:
        raise MetricSqlError(_TOO_DEEP) from None
    if len(statements) != 1:
        raise MetricSqlError("sqlDefinition must be exactly one statement")
    tree = statements[0]
    if _depth(tree) > MAX_DEPTH:
        raise MetricSqlError(_TOO_DEEP)
    if not isinstance(tree, exp.Select | exp.SetOperation):
        raise MetricSqlError("sqlDefinition must be a SELECT query")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        _check_node(node, ctes)
    _check_scopes(tree)
    return tree


def render(tree: exp.Expression) -> str:
    """The query as DuckDB will run it: re-rendered from the tree, without comments."""
    return tree.sql(dialect="duckdb", comments=False)


@lru_cache(maxsize=1024)
def normalize(sql: str) -> str:
    """The validated query as it will run (cached: a metric's SQL is checked once per text).

    Run on a thread of its own, so that the outcome does not depend on how deep the caller's
    stack already is: the API's handler and the build's Dagster step decide alike."""
    return _on_fresh_stack(lambda: render(validate(sql)))


_TOO_DEEP = f"sqlDefinition nests more than {MAX_DEPTH} levels deep"
_T = TypeVar("_T")


def _on_fresh_stack(work: Callable[[], _T]) -> _T:
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except RecursionError:
            outcome["error"] = MetricSqlError(_TOO_DEEP)
        except BaseException as error:  # handed to the caller's thread as it is
            outcome["error"] = error

    thread = threading.Thread(target=run, name="metric-sql")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _depth(tree: exp.Expression) -> int:
    """The tree's depth, walked without recursion (the tree may be arbitrarily deep)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


def _check_node(node: exp.Expression, ctes: set[str]) -> None:
    if isinstance(node, _FORBIDDEN_NODES):
        raise MetricSqlError(f"not allowed in a metric: {node.key.upper()}")
    if isinstance(node, exp.Table):
        _check_table(node, ctes)
    elif isinstance(node, exp.Anonymous):
        if node.name.lower() not in _ALLOWED_NAMES:
            raise MetricSqlError(f"function not allowed in a metric: {node.name}")
    elif isinstance(node, exp.Func) and type(node) not in _ALLOWED_FUNCTIONS:
        raise MetricSqlError(f"function not allowed in a metric: {node.sql_name()}")


def _check_table(table: exp.Table, ctes: set[str]) -> None:
    if not isinstance(table.this, exp.Identifier):
        raise MetricSqlError(f"only {FILTERED_EVENTS} can be read, not {table.this.sql()}")
    if table.args.get("db") or table.args.get("catalog"):
        raise MetricSqlError(f"only {FILTERED_EVENTS} can be read, not {table.sql()}")
    name = table.name.lower()
    if name != FILTERED_EVENTS and name not in ctes:
        raise MetricSqlError(f"only {FILTERED_EVENTS} and the query's own CTEs can be read: {name}")


def _check_scopes(tree: exp.Query) -> None:
    """A CTE's name only counts where the CTE is visible; elsewhere it would read the catalog."""
    try:
        scopes = traverse_scope(tree)
    except (OptimizeError, ValueError) as error:
        raise MetricSqlError(f"sqlDefinition cannot be analysed: {_first_line(error)}") from None
    for scope in scopes:
        visible = {name.lower() for name in scope.cte_sources}
        for table in scope.tables:
            name = table.name.lower()
            if name != FILTERED_EVENTS and name not in visible:
                raise MetricSqlError(
                    f"{name} is not visible here: only {FILTERED_EVENTS} and CTEs in scope"
                )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200]


@lru_cache(maxsize=1024)
def columns_read(sql: str) -> frozenset[str] | None:
    """The filtered_events columns a validated query may read (a superset: any identifier of
    that name anywhere), or None when it reads them all (`*`, other than in `count(*)`)."""
    tree = _on_fresh_stack(lambda: validate(sql))
    for star in tree.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count):
            return None
    names = {identifier.name.lower() for identifier in tree.find_all(exp.Identifier)}
    return frozenset(names & FILTERED_EVENTS_COLUMNS.keys())
