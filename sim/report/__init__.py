"""Scenario reports: report.json (versioned; the models in sim.report.model are its schema,
docs/report.schema.json), junit.xml (sim.report.junit), a self-contained report.html (sim.report.html), the run
records and console logs; written atomically (sim.report.writer)."""
