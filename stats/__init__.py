"""Statistics: bus events -> history tables, the pure KPI core, the live queue board, reports and exports.

- ``kpi``: KPI definitions (ARCHITECTURE section 7) over plain records; ``queue_call``: the life of a queue call.
- ``writer``: the idempotent history writer; ``rollup``: the exact hourly rollup it keeps.
- ``live``: the live queue board (``queue.stats``); ``reports`` and ``export``: report queries and files.
"""
