"""/search/'s statements compiled without a database: one per query shape, the same SQL as a fresh one."""
from __future__ import annotations


def test_the_statement_built_once_per_query_shape_is_the_statement_of_each_query_of_that_shape():
    """/search/ builds an entity's statement once per query shape, then runs it with each query's values."""
    from sqlalchemy.dialects import postgresql

    from app.search.conditions import Terms
    from app.search.service import ENTITIES, entity_statement

    def sql_of(statement) -> str:
        return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))

    queries = ["renewal", "Logistics", "contract renewal", "O'Brien", "100%_off", "+86 13", "合同续签",
               "科技有限公司", "华为 renewal", "华为", "深圳", "华", "王", "ab", "x1", "a", "Z"]
    assert len({Terms(q).shape() for q in queries}) >= 5
    for entity in ENTITIES:
        for first in queries:
            built = entity_statement(entity, Terms(first, shared=True))
            for query in [q for q in queries if Terms(q).shape() == Terms(first).shape()]:
                fresh = entity_statement(entity, Terms(query))
                if built is None or fresh is None:
                    assert built is None and fresh is None, (entity.table.name, first, query)
                else:
                    shared = sql_of(built.params(Terms(query).params()))
                    assert shared == sql_of(fresh), (entity.table.name, first, query)
