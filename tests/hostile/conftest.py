# The attack notebooks are hostile code: only `cnnlab grade` may run them (tests/test_hostile.py),
# never nbval or pytest directly, so nothing here is collected even without --ignore.
collect_ignore_glob = ["*.ipynb", "*.py"]
