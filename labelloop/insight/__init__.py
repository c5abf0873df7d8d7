"""Insight: what the labels bought, as numbers and charts (learning curves of a simulation, ...).

PURE: reads plain arrays and the frozen results of ``labelloop.learn``; never the store, the
workflow or the server. Chart writers import their plotting library only when called.
"""
