"""The sales dashboard: one page, served by the app, that draws the metrics API as charts."""
