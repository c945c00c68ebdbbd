"""Small statistics helpers used by the chatls demo (scripts/demo.sh).

`median` has a subtle bug on purpose: try "Explain with AI" or "Fix with AI" on it.
"""


def median(values):
    """Return the median of a non-empty sequence of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return ordered[middle]
    return ordered[middle]


def mean(values):
    """Return the arithmetic mean of a non-empty sequence of numbers."""
    if not values:
        raise ValueError("mean() of an empty sequence")
    return sum(values) / len(values)


if __name__ == "__main__":
    print(median([3, 1, 2]))  # 2
    print(median([4, 1, 3, 2]))  # should be 2.5
    print(mean([1, 2, 3, 4]))  # 2.5
