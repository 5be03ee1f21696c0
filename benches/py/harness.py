"""What the benchmark harnesses in this folder share: the summary of a list of timings and
the output of a result."""

import json
import statistics


def summary(times_ns):
    """Median, quartiles, extremes (microseconds) and count of timings in nanoseconds."""
    us = sorted(t / 1000.0 for t in times_ns)
    q = statistics.quantiles(us, n=4)
    return {"median_us": statistics.median(us), "q1_us": q[0], "q3_us": q[2],
            "min_us": us[0], "max_us": us[-1], "n": len(us)}


def write_result(result, path):
    """Prints `result` as JSON, and writes it to `path` too when one is given."""
    out = json.dumps(result, indent=2)
    if path:
        with open(path, "w") as f:
            f.write(out + "\n")
    print(out)
