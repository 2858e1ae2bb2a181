# feature_store: PGXS build.
EXTENSION   = feature_store
MODULE_big  = feature_store
EXTVERSION  = 0.1.0

SRCS        = $(wildcard src/*.c)
OBJS        = $(SRCS:.c=.o)
DATA        = sql/$(EXTENSION)--$(EXTVERSION).sql

# pg_regress: inputs in sql/<test>.sql, expected outputs in expected/<test>.out
REGRESS     = $(sort $(notdir $(basename $(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --outputdir=results --load-extension=$(EXTENSION)

PG_CPPFLAGS = -Isrc
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers $(if $(WERROR),-Werror)
SHLIB_LINK  = -lcurl -ljansson

PG_CONFIG  ?= pg_config
PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header changes.
$(OBJS): $(wildcard src/*.h)

.PHONY: bench
bench:
	bash test/bench/run.sh
