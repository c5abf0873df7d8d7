"""Parquet files of texts: pandas' ``to_parquet``, ``Dataset.to_parquet`` and the Hub's files.

A row is read as a row of a saved Hugging Face dataset is (``hf_datasets``), in batches: one
column the text, others the id, the label and the pre-annotations, the rest metadata. A file
``datasets`` wrote keeps its features in the schema, so a ``ClassLabel`` id becomes its class
name (with the datasets library installed); elsewhere a label is read as the column holds it.
Table projects read Parquet rows with ``tables.ParquetTableImporter`` instead. Errors name the
1-based row number ("row 3") and the column.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, ClassVar

from labelloop.domain import ItemIn
from labelloop.ingest.hf_datasets import HfDatasetsImporter
from labelloop.ingest.records import in_rows
from labelloop.ingest.tables import open_parquet, parquet_records


class ParquetImporter(HfDatasetsImporter):
    """Reads a Parquet file of texts (needs pyarrow), a batch of rows at a time."""

    format: ClassVar[str] = "parquet"

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per row of the Parquet file ``source``."""
        file = open_parquet(source)
        features = _features(file.schema_arrow)
        self._check_columns(features)
        yield from in_rows(self._row(n, record, features) for n, record in parquet_records(file))


def _features(schema: Any) -> Mapping[str, Any]:
    """Column name -> its datasets feature where the file carries them (``datasets`` wrote it
    and is installed), else None, which reads every value as the column holds it."""
    if (schema.metadata or {}).get(b"huggingface") and importlib.util.find_spec("datasets"):
        from datasets import Features

        try:
            return dict(Features.from_arrow_schema(schema))
        except (ValueError, TypeError, KeyError):  # features another version wrote
            pass
    return dict.fromkeys(schema.names)
