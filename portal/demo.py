"""The demo data of `make run`, one step per feature.

Each step is a module with `load(stdout) -> list[tuple[str, str, str]]` that
adds its data and returns (who, path, login) lines for the printed summary.
Demo accounts exist only here; `load_demo` refuses to run when DEBUG is off.
"""

STEPS = [
    "numbers.demo",
    "numbers.feeds.demo",  # a processed feed upload
    "numbers.sales.demo",
    "numbers.oversight.demo",  # sales with disclosures and declined offers for the dashboard
    "renewal.deliveries.demo",
    "renewal.active.demo",  # subscriber numbers, a harassment report
]
