.PHONY: run test bench
run:
	./run.sh
test:
	./test.sh
bench:
	scripts/setup-venv.sh dev && .venv/bin/python bench/bench_ingest.py
