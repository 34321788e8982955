.PHONY: run test bench i18n
run:
	./run.sh
test:
	./test.sh
bench:
	scripts/setup-venv.sh dev && .venv/bin/python bench/bench_ingest.py
i18n:
	scripts/setup-venv.sh dev && scripts/i18n.sh
