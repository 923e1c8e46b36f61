"""Query structure: SELECT blocks, FROM/joins, WITH, set operations, ORDER BY, TOP/OFFSET.

Every identifier emitted is quoted and spelled as the catalogue spells it (obtained through the
:class:`~planners.sql_catalog.TableResolver`), so case and reserved words never depend on the
target's folding rules. Every select item gets an explicit, unique output name: the alias,
else the column's own name, else a generated one (``count``, ``count_2``, ``avg``, ``expr``);
the result metadata returned alongside the SQL uses the same names.
"""

from __future__ import annotations

from sqlglot import exp
from typing_extensions import override

from grammar import nodes as n
from grammar.errors import SemanticProblem, UnsupportedError
from planners import sql_xmatch
from planners.output_names import UniqueNames, generated_name
from planners.sql_catalog import UNKNOWN, ColumnInfo, Typed
from planners.sql_geometry import Geo
from planners.sql_scope import RangeVariable, Scope, quoted, unknown_table
from planners.sql_values import ValueCompiler, constant


class QueryCompiler(ValueCompiler):
    """ADQL :class:`~grammar.nodes.Query` to a sqlglot expression plus result columns."""

    ctes: dict[str, tuple[str, tuple[ColumnInfo, ...]]]

    def compile(
        self, query: n.Query, row_limit: int | None = None
    ) -> tuple[exp.Expr, list[ColumnInfo]]:
        """The whole query; ``row_limit`` caps the rows after TOP (used for MAXREC + 1)."""
        self.ctes = {}
        sql, columns = self.query(query, None, row_limit)
        self.fail()
        return sql, columns

    @override
    def subquery(self, query: n.Query, parent: Scope) -> tuple[exp.Expr, list[ColumnInfo]]:
        """A nested query (IN, EXISTS, scalar, derived table) seeing ``parent``."""
        return self.query(query, parent, None)

    def query(
        self, q: n.Query, parent: Scope | None, row_limit: int | None
    ) -> tuple[exp.Expr, list[ColumnInfo]]:
        """One ``[WITH] body [ORDER BY] [OFFSET]``."""
        saved = dict(self.ctes)
        withs: list[exp.CTE] = []
        for w in q.with_:
            sql, cols = self.query(w.query, parent, None)
            self.ctes[w.name.key] = (w.name.name, tuple(cols))
            withs.append(exp.CTE(this=sql, alias=exp.TableAlias(this=quoted(w.name.name))))
        body, columns, scope, top = self.body(q.body, parent)
        if q.order_by:
            body.set(
                "order", exp.Order(expressions=[self.order(o, columns, scope) for o in q.order_by])
            )
        limit = top if row_limit is None else row_limit if top is None else min(top, row_limit)
        if limit is not None:
            body.set("limit", exp.Limit(expression=exp.Literal.number(limit)))
        if q.offset is not None:
            body.set("offset", exp.Offset(expression=exp.Literal.number(q.offset)))
        if withs:
            body.set("with_", exp.With(expressions=withs))
        self.ctes = saved
        return body, columns

    def body(
        self, b: n.QueryBody, parent: Scope | None
    ) -> tuple[exp.Query, list[ColumnInfo], Scope | None, int | None]:
        """A SELECT block, a set operation or a parenthesised query.

        TOP is returned apart so that OFFSET (applied first, ADQL 2.1 §4.13) and MAXREC
        combine with it at the level of the whole query.
        """
        match b:
            case n.SelectQuery():
                select, columns, scope = self.select(b, parent)
                return select, columns, scope, b.top
            case n.SetOperation():
                left, lcols = self.operand(b.left, parent)
                right, rcols = self.operand(b.right, parent)
                if len(lcols) != len(rcols):
                    self.problems.append(
                        SemanticProblem(
                            f"{b.op} operands have {len(lcols)} and {len(rcols)} columns", b.span
                        )
                    )
                cls = {"UNION": exp.Union, "INTERSECT": exp.Intersect, "EXCEPT": exp.Except}[b.op]
                # ADQL: metadata of a set operation comes from the left operand.
                return cls(this=left, expression=right, distinct=not b.all), lcols, None, None
            case n.Query():
                sql, columns = self.query(b, parent, None)
                wrapped = exp.select(exp.Star()).from_(
                    exp.Subquery(this=sql, alias=exp.TableAlias(this=quoted("q")))
                )
                return wrapped, columns, None, None

    def operand(self, b: n.QueryBody, parent: Scope | None) -> tuple[exp.Expr, list[ColumnInfo]]:
        """A set-operation operand; bodies with their own TOP/ORDER need parentheses."""
        if isinstance(b, n.Query):
            sql, cols = self.query(b, parent, None)
            return exp.Subquery(this=sql), cols
        sql2, cols, _, top = self.body(b, parent)
        if top is not None:
            sql2.set("limit", exp.Limit(expression=exp.Literal.number(top)))
            return exp.Subquery(this=sql2), cols
        return sql2, cols

    def order(self, o: n.OrderItem, columns: list[ColumnInfo], scope: Scope | None) -> exp.Ordered:
        """ORDER BY by position, output name, or any expression of the FROM scope."""
        e = o.expression
        sql: exp.Expr
        if isinstance(e, n.NumericLiteral) and e.is_integer:
            sql = exp.Literal.number(e.text)
        elif (
            isinstance(e, n.ColumnReference)
            and e.qualifier is None
            and any(
                c.name == e.name.name if e.name.delimited else c.name.lower() == e.name.key
                for c in columns
            )
        ):
            name = next(
                c.name
                for c in columns
                if (c.name == e.name.name)
                or (not e.name.delimited and c.name.lower() == e.name.key)
            )
            sql = exp.Column(this=quoted(name))
        elif scope is not None:
            sql = self.scalar(e, scope).sql
        else:
            raise UnsupportedError("ORDER BY an expression over a set operation", location=o.span)
        # NULLs sort as in PostgreSQL (largest) so answers agree across targets.
        return exp.Ordered(this=sql, desc=o.descending, nulls_first=o.descending)

    # ------------------------------------------------------------------ SELECT

    def select(
        self, s: n.SelectQuery, parent: Scope | None
    ) -> tuple[exp.Select, list[ColumnInfo], Scope]:
        """One SELECT block with its FROM, WHERE, GROUP BY and HAVING."""
        scope = Scope(parent=parent)
        select = exp.Select()
        sources: dict[str, exp.Expr] = {}
        for i, item in enumerate(s.from_):
            base, joins = self.from_item(item, scope, sources)
            if i == 0:
                select.set("from_", exp.From(this=base))
            else:
                select.append("joins", exp.Join(this=base))
            for j in joins:
                select.append("joins", j)
        if s.where is not None:
            extra = self.zone_conjuncts(s.where, scope, sources, set())
            select.set("where", exp.Where(this=exp.and_(self.condition(s.where, scope), *extra)))
        names = UniqueNames()
        outputs: list[ColumnInfo] = []
        for select_item in s.items:
            for sql, info in self.items(select_item, scope):
                if info.name == "*":  # pass-through star: expands at the target
                    outputs.append(info)
                    select.append("expressions", sql)
                    continue
                name = names.take(info.name)
                outputs.append(info.renamed(name))
                plain = isinstance(sql, exp.Column) and sql.name == name
                select.append("expressions", sql if plain else exp.alias_(sql, quoted(name)))
        if s.quantifier == "DISTINCT":
            select.set("distinct", exp.Distinct())
        if s.group_by:
            select.set(
                "group", exp.Group(expressions=[self.group(g, scope, outputs) for g in s.group_by])
            )
        if s.having is not None:
            select.set("having", exp.Having(this=self.condition(s.having, scope)))
        return select, outputs, scope

    def group(self, g: n.ValueExpression, scope: Scope, outputs: list[ColumnInfo]) -> exp.Expr:
        """GROUP BY a column, an expression, or (leniently) an output alias."""
        if isinstance(g, n.ColumnReference) and g.qualifier is None:
            before = len(self.problems)
            found = scope.resolve(g, self.problems)
            if found is None and any(c.name.lower() == g.name.key for c in outputs):
                del self.problems[before:]
                return exp.Column(
                    this=quoted(next(c.name for c in outputs if c.name.lower() == g.name.key))
                )
            return found[0] if found else exp.Null()
        return self.scalar(g, scope).sql

    def items(self, item: n.SelectItem, scope: Scope) -> list[tuple[exp.Expr, ColumnInfo]]:
        """A select item, with ``*`` expanded to the visible columns in FROM order."""
        if isinstance(item, n.Asterisk):
            tables = scope.tables
            if item.qualifier is not None:
                tables = [t for t in scope.tables if t.answers_to(item.qualifier)]
                if not tables:
                    self.problems.append(
                        SemanticProblem(
                            "Unknown table '"
                            + ".".join(p.name for p in item.qualifier.parts)
                            + "' in select list",
                            item.span,
                        )
                    )
            if any(t.open for t in tables):
                if item.qualifier is None:
                    return [(exp.Star(), ColumnInfo("*"))]
                star = exp.Column(this=exp.Star(), table=quoted(tables[0].sql_alias))
                return [(star, ColumnInfo("*"))]
            out: list[tuple[exp.Expr, ColumnInfo]] = []
            seen_merged: set[str] = set()
            for t in tables:
                for c in t.columns:
                    key = c.name.lower()
                    if item.qualifier is None and key in scope.merged:
                        if key in seen_merged:
                            continue
                        seen_merged.add(key)
                        out.append((exp.Column(this=quoted(c.name)), c))
                        continue
                    out.append((t.column_sql(c), c))
            return out
        got = self.value(item.expression, scope)
        typed = got if isinstance(got, Typed) else self.as_array(got)
        info = typed.type
        if item.alias is not None:
            info = info.renamed(item.alias.name)
        elif not isinstance(item.expression, n.ColumnReference) or not info.name:
            info = info.renamed(generated_name(item.expression))
        return [(typed.sql, info)]

    # ------------------------------------------------------------------ FROM

    def from_item(
        self, item: n.FromItem, scope: Scope, sources: dict[str, exp.Expr]
    ) -> tuple[exp.Expr, list[exp.Join]]:
        """A FROM item as a base source plus the joins that follow it."""
        match item:
            case n.TableReference():
                return self.table(item, scope, sources), []
            case n.DerivedTable():
                sql, cols = self.query(item.query, scope.parent, None)
                alias = item.alias.name if item.alias.delimited else item.alias.key
                scope.add(
                    RangeVariable(item.alias, (item.alias,), alias, tuple(cols)),
                    self.problems,
                    item.alias,
                )
                node = exp.Subquery(this=sql, alias=exp.TableAlias(this=quoted(alias)))
                sources[alias] = node
                return node, []
            case n.JoinedTable():
                return self.join(item, scope, sources)

    def table(self, ref: n.TableReference, scope: Scope, sources: dict[str, exp.Expr]) -> exp.Expr:
        """A named table (catalogue, upload or CTE)."""
        name = ref.name
        written = ref.alias or name.table
        alias = written.name if written.delimited else written.key
        cte = self.ctes.get(name.table.key) if len(name.parts) == 1 else None
        is_open = False
        if cte is not None:
            parts: tuple[str, ...] = (cte[0],)
            columns = cte[1]
        else:
            resolver = self.target.resolver
            resolved = resolver.resolve_table(name) if resolver is not None else None
            if resolved is None:
                known = list(resolver.table_names()) if resolver is not None else []
                self.problems.append(unknown_table(name, known))
                parts, columns = tuple(p.name for p in name.parts), ()
            else:
                parts, columns = resolved.sql_name, resolved.columns
                is_open = resolved.open
        scope.add(
            RangeVariable(ref.alias, name.parts, alias, columns, is_open), self.problems, written
        )
        keys = ["this", "db", "catalog"]
        node = exp.Table(
            **{k: quoted(p) for k, p in zip(keys, reversed(parts), strict=False)},
            alias=exp.TableAlias(this=quoted(alias)),
        )
        sources[alias] = node
        return node

    def join(
        self, j: n.JoinedTable, scope: Scope, sources: dict[str, exp.Expr]
    ) -> tuple[exp.Expr, list[exp.Join]]:
        """``left [NATURAL] kind JOIN right [ON ... | USING (...)]``, flattened leftwards.

        Without ON/USING (and not NATURAL) the join is ``ON TRUE``: every row with every row,
        an outer join still keeping its preserved rows when the other side is empty.
        """
        before = len(scope.tables)
        base, joins = self.from_item(j.left, scope, sources)
        holder = exp.From(this=base)  # a parent, so a zone-join rewrite can replace the base
        middle = len(scope.tables)
        left_tables = scope.tables[before:middle]
        if isinstance(j.right, n.JoinedTable):
            right = self.nested_join(j.right, scope, sources)
        else:
            right, _ = self.from_item(j.right, scope, sources)
        right_tables = scope.tables[middle:]
        right_columns = [c for t in right_tables for c in t.columns]
        node = exp.Join(this=right)
        if j.kind == "CROSS":
            node.set("kind", "CROSS")
        elif j.kind != "INNER":
            node.set("side", j.kind)
        using = j.using
        if j.natural:
            left_names = {c.name.lower() for t in left_tables for c in t.columns}
            using = tuple(
                n.Identifier(c.name) for c in right_columns if c.name.lower() in left_names
            )
        if using is not None:
            names = []
            for ident in using:
                col = next(
                    (
                        c
                        for c in right_columns
                        if c.name.lower() == ident.key or c.name == ident.name
                    ),
                    None,
                )
                names.append(quoted(col.name if col else ident.name))
                scope.merged.add(ident.key)
            node.set("using", names)
        elif j.condition is not None:
            right_aliases = {t.sql_alias for t in right_tables}
            preserved = right_aliases if j.kind in {"RIGHT", "FULL"} else set()
            if j.kind in {"LEFT", "FULL"}:
                preserved |= {t.sql_alias for t in left_tables}
            extra = self.zone_conjuncts(j.condition, scope, sources, preserved)
            node.set("on", exp.and_(self.condition(j.condition, scope), *extra))
        elif j.kind != "CROSS":
            node.set("on", exp.true())
        return holder.this, [*joins, node]

    def nested_join(self, j: n.JoinedTable, scope: Scope, sources: dict[str, exp.Expr]) -> exp.Expr:
        """A parenthesised join on the right of JOIN: ``(base JOIN ... )`` as one source.

        Its tables join the enclosing scope (their columns stay visible by their own names).
        The base carries the inner joins, so it is kept out of ``sources``: a zone-join
        rewrite of an enclosing ON would copy those joins into its derived table.
        """
        inner: dict[str, exp.Expr] = {}
        base, joins = self.join(j, scope, inner)
        base.set("joins", joins)
        sources.update({alias: node for alias, node in inner.items() if node is not base})
        return exp.Subquery(this=base)

    def zone_conjuncts(
        self,
        cond: n.SearchCondition,
        scope: Scope,
        sources: dict[str, exp.Expr],
        preserved: set[str],
    ) -> list[exp.Expr]:
        """Extra zone-join conjuncts for positional cross-match predicates in ``cond``."""
        if self.target.dialect != "duckdb" or not self.target.zone_join:
            return []
        conjuncts = cond.operands if isinstance(cond, n.AndCondition) else (cond,)
        extra: list[exp.Expr] = []
        for c in conjuncts:
            match = self._xmatch(c, scope)
            if match is not None:
                extra += sql_xmatch.zone_join(match, sources, preserved)
        return extra

    def _xmatch(self, c: n.SearchCondition, scope: Scope) -> sql_xmatch.Match | None:
        if not isinstance(c, n.ComparisonPredicate):
            return None
        sides = [
            (c.left, c.right, c.op),
            (c.right, c.left, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(c.op, c.op)),
        ]
        for fn, other, op in sides:
            if not isinstance(fn, n.FunctionCall):
                continue
            name = fn.name.upper()
            if (
                name == "CONTAINS"
                and op == "="
                and isinstance(other, n.NumericLiteral)
                and other.text == "1"
            ):
                probe, region = (self._quiet_geometry(x, scope) for x in fn.args)
                if probe is None or region is None or region.kind != "circle":
                    return None
                return sql_xmatch.detect(probe, region, constant(region.parts[2]))
            if name == "DISTANCE" and op in {"<", "<="} and len(fn.args) == 2:
                p, q = (self._quiet_geometry(x, scope) for x in fn.args)
                if p is None or q is None:
                    return None
                return sql_xmatch.detect(p, q, constant(self.scalar(other, scope).sql))
        return None

    def _quiet_geometry(self, node: n.ValueExpression, scope: Scope) -> Geo | None:
        before = len(self.problems)
        try:
            return self.geometry(node, scope)
        except UnsupportedError:
            return None
        finally:
            del self.problems[before:]  # the real compilation reports problems once


__all__ = ["UNKNOWN", "QueryCompiler"]
