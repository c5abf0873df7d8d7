"""Ids never given twice: SQLite's new rows start above every id removed (see ``id_high_water``).

SQLite without AUTOINCREMENT gives a new row the table's highest id + 1, so removing the newest
rows would hand their ids out again; rebuilding the tables with AUTOINCREMENT would copy every
item. Instead the highest id removed is kept, and an INSERT on SQLite names its id as one above
it while the table's own highest id is not higher (a NULL id otherwise: SQLite's own choice).
PostgreSQL's sequences never go back, so there it changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, case, func, literal, select

from labelloop.store.tables import id_high_water


def next_id(table: Table) -> Any:
    """The id an INSERT into ``table`` gives on SQLite (a scalar subquery): one above the
    highest removed id while no row is higher, else NULL (SQLite's own next id)."""
    highest = select(func.coalesce(func.max(table.c.id), 0)).scalar_subquery()
    return (
        select(
            case(
                (id_high_water.c.last_id >= highest, id_high_water.c.last_id + 1),
                else_=literal(None),
            )
        )
        .where(id_high_water.c.table_name == table.name)
        .scalar_subquery()
    )


def insert_of(conn: Connection, table: Table) -> Any:
    """``table.insert()``, naming its id by :func:`next_id` on SQLite."""
    stmt = table.insert()
    return stmt.values(id=next_id(table)) if conn.dialect.name == "sqlite" else stmt


def retire(conn: Connection, table: Table, top: int | None) -> None:
    """Remember ``top``, the highest id of ``table``'s rows about to be deleted, on SQLite, so
    no new row gets it or one below it that was removed."""
    if top is None or conn.dialect.name != "sqlite":
        return
    where = id_high_water.c.table_name == table.name
    known = conn.execute(select(id_high_water.c.last_id).where(where)).scalar_one_or_none()
    if known is None:
        conn.execute(id_high_water.insert().values(table_name=table.name, last_id=int(top)))
    elif top > known:
        conn.execute(id_high_water.update().where(where).values(last_id=int(top)))
