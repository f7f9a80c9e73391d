"""The demo data of `make run`, one step per feature.

Each step is a module with `load(stdout) -> list[tuple[str, str, str]]` that
adds its data and returns (who, path, login) lines for the printed summary.
Demo accounts exist only here; `load_demo` refuses to run when DEBUG is off.
"""

STEPS = [
    "numbers.demo",
    "numbers.demo_feed",  # issue 3: a processed feed upload
    "numbers.demo_sales",
    "numbers.demo_oversight",  # sales with disclosures and declined offers for the dashboard (issue 7)
    "renewal.demo",
    "renewal.demo_subscriber",  # issue 5: subscriber numbers, a harassment report
]
