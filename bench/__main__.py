"""`python -m bench` (`make bench`): every benchmark, with its defaults."""
from bench import search

search.main()
