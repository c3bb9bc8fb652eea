"""Topic ids from a fitted topic model (`textmill topic fit`): `topic_id` (the nearest centroid)
and `topic_keywords` (that topic's first five c-TF-IDF keywords, dictionary-encoded: one string
per topic, not per row). The same file gives every shard the same ids; a mix spec can group by
`topic_id` and the report shows topic sizes and keywords."""

from __future__ import annotations

import pyarrow as pa
from pydantic import Field

from textmill.document import TEXT
from textmill.pipeline import Mapper, StageOptions, register
from textmill.topics import TopicModel

TOPIC_ID = "topic_id"
TOPIC_KEYWORDS = "topic_keywords"


@register("topic")
class Topic(Mapper):
    """Adds `topic_id` (int32, null for a text with nothing to embed) and `topic_keywords`
    from a topic model made by `textmill topic fit` (k-means centroids + c-TF-IDF keywords)."""

    class Options(StageOptions):
        model_path: str = Field(description="the .npz file `textmill topic fit` wrote")
        keywords: int = Field(5, ge=0, description="keywords in `topic_keywords` (0: no column)")

    def setup(self) -> None:
        TopicModel.load(self.options.model_path)

    def map(self, batch: pa.Table) -> pa.Table:
        model = TopicModel.load(self.options.model_path)
        ids = model.assign(batch[TEXT]) if batch.num_rows else pa.array([], pa.int32())
        for name in (TOPIC_ID, TOPIC_KEYWORDS):  # a re-run replaces earlier topics
            if name in batch.column_names:
                batch = batch.drop_columns([name])
        batch = batch.append_column(TOPIC_ID, ids)
        if self.options.keywords:
            labels = pa.array(model.labels(self.options.keywords), pa.string())
            batch = batch.append_column(TOPIC_KEYWORDS, pa.DictionaryArray.from_arrays(ids, labels))
        return batch
