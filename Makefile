# feature_store: PGXS build.
EXTENSION   = feature_store
MODULE_big  = feature_store
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)

SRCS        = $(wildcard src/*.c)
# json_doc.cpp wraps simdjson (C++17) behind the C interface of json_doc.h.
OBJS        = $(SRCS:.c=.o) src/json_doc.o

# Extension scripts (src/sql/): the current version's install script is built
# from feature_store.sql; released install scripts that upgrades start from
# are kept as released (feature_store--X.sql); upgrade scripts are
# feature_store--X--Y.sql.
DATA_built  = src/sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = src/sql/$(EXTENSION)--0.1.0.sql $(wildcard src/sql/$(EXTENSION)--*--*.sql)

# pg_regress: inputs in sql/<test>.sql, expected outputs in expected/<test>.out
REGRESS     = $(sort $(notdir $(basename $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# isolation tests (several sessions): test/isolation/specs/<test>.spec,
# expected outputs in test/isolation/expected/<test>.out
ISOLATION   = $(sort $(notdir $(basename $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=$(EXTENSION)

PG_CPPFLAGS = -Isrc
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers $(if $(WERROR),-Werror)
PG_CXXFLAGS = -std=c++17 -Wall -Wextra $(if $(WERROR),-Werror)
SHLIB_LINK  = -lcurl -ljansson -lsimdjson -lstdc++

PG_CONFIG  ?= pg_config
PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

src/sql/$(EXTENSION)--$(EXTVERSION).sql: src/sql/$(EXTENSION).sql
	cp $< $@

# The JIT's bitcode of the C++ file needs the same language level.
src/json_doc.bc: BITCODE_CXXFLAGS += -std=c++17

# PGXS tracks no header dependencies: rebuild every object when a header changes.
$(OBJS): $(wildcard src/*.h)

.PHONY: bench
bench:
	bash test/bench/run.sh
