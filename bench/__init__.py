"""Benchmarks: how fast the bot books, answers and exports, against the limits of the machine.

`make bench` (python -m bench) runs every module, prints a table, writes bench/results.json and puts
the table into README.md between the bench markers. See bench/__main__.py.
"""
