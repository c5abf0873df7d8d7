"""Rows of columnar files (Parquet, Arrow) read in bounded memory.

A few KiB of Parquet can declare gigabytes once read: a long text its dictionary holds once and
every row repeats, or pages of one letter that compress a thousandfold. So a column chunk that
declares far more than it holds is refused unread, a row group's rows are read a few at a time
when they are large, and a text column's dictionary is kept while rows are turned into records,
a slice of rows at a time, each slice at most :data:`BATCH_BYTES` written out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from labelloop.errors import ImportFormatError

BATCH_ROWS = 2000
"""The rows read at a time, where they are small."""
BATCH_BYTES = 64 << 20
"""What the rows read at a time may come to: their texts written out, their other values read."""
MAX_RATIO = 100
"""How many times its stored size a column chunk over :data:`BATCH_BYTES` may declare once read:
text compresses a few times, never a hundredfold but when it repeats itself to fill memory."""


def text_columns(schema: Any) -> list[str]:
    """The top-level text and bytes columns of an Arrow ``schema``: those read as dictionaries
    (a Parquet file's ``read_dictionary``), written out a slice of rows at a time."""
    import pyarrow as pa

    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary)
    return [f.name for f in schema if any(k(f.type) for k in (*kinds, pa.types.is_large_binary))]


def parquet_batches(file: Any) -> Iterator[Any]:
    """The record batches of the Parquet ``file`` (pyarrow's ``ParquetFile``), row group by row
    group, each at most :data:`BATCH_ROWS` rows and :data:`BATCH_BYTES` as the file declares
    them; a column chunk that declares more than :data:`MAX_RATIO` times its stored size is
    refused naming its column and first row."""
    meta, first = file.metadata, 1
    for group in range(meta.num_row_groups):
        rows = meta.row_group(group)
        for column in range(rows.num_columns):
            _check_ratio(rows.column(column), first=first)
        per_row = rows.total_byte_size / max(rows.num_rows, 1)
        size = max(1, min(BATCH_ROWS, int(BATCH_BYTES // max(per_row, 1))))
        yield from file.iter_batches(batch_size=size, row_groups=[group])
        first += rows.num_rows


def _check_ratio(chunk: Any, *, first: int) -> None:
    declared, stored = chunk.total_uncompressed_size, max(chunk.total_compressed_size, 1)
    if declared > BATCH_BYTES and declared > MAX_RATIO * stored:
        raise ImportFormatError(
            line=first,
            field=chunk.path_in_schema,
            reason=f"the rows from here declare {declared / (1 << 20):,.0f} MiB packed into "
            f"{stored:,} bytes, over {MAX_RATIO} times their size: refused unread",
        )


def batch_records(batch: Any) -> Iterator[dict[str, Any]]:
    """The rows of an Arrow record ``batch`` as dicts, a slice of rows at a time whose
    dictionary-encoded texts come to at most :data:`BATCH_BYTES` written out (one row at least):
    a long text a dictionary holds once is written out for a few rows, not for every row."""
    sizes = _written_sizes(batch)
    if sizes is None:
        yield from batch.to_pylist()
        return
    start, total = 0, 0
    for row, size in enumerate(sizes):
        if row > start and total + size > BATCH_BYTES:
            yield from batch.slice(start, row - start).to_pylist()
            start, total = row, 0
        total += size
    yield from batch.slice(start).to_pylist()


def _written_sizes(batch: Any) -> list[int] | None:
    """Each row's bytes of dictionary-encoded text once written out; None without such text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sizes = None
    for column in batch.columns:
        if not pa.types.is_dictionary(column.type):
            continue
        values = column.dictionary
        if not (pa.types.is_string(values.type) or pa.types.is_binary(values.type)):
            continue
        lengths = pc.take(pc.binary_length(values).cast(pa.int64()), column.indices)
        lengths = lengths.fill_null(0)
        sizes = lengths if sizes is None else pc.add(sizes, lengths)
    return None if sizes is None else sizes.to_pylist()
