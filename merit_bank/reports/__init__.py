"""Reports: rankings, the 红黑榜, statistics, dashboards, exports, roster import and printed cards."""
