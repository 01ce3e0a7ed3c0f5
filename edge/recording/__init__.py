"""Recording: each camera's packets to crash-safe segments on the box's own disk.

`cameras` builds and runs every camera's pipeline: `capture` connects to the
camera and hands its `packets` to a `fanout` (with a GOP cache for instant
start); the `recorder` writes them as fragmented MP4 (`segment_file`, `h264`)
made durable by `durability`'s syncer, under the `storage` layout, and lists
them in the SQLite `index`. `reconcile` makes the index agree with the files
on start; `retention` deletes oldest first by age and disk budget.
"""
