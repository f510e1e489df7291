"""Scenario reports: report.json (versioned; the models in tinyml_cosim.results.model are its schema,
docs/report.schema.json), junit.xml (tinyml_cosim.report.junit), a self-contained report.html (tinyml_cosim.report.html), the run
records and console logs; written atomically (tinyml_cosim.report.writer)."""
