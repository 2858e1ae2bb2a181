/*-------------------------------------------------------------------------
 *
 * ddb_json.c
 *	  jansson inside a backend: fs_json_object, holders, builders.
 *
 * See ddb_json.h for why these exist.
 *
 *-------------------------------------------------------------------------
 */
#include "ddb_json.h"

#include <dlfcn.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "cache.h"

/*
 * An empty json object.  The postgres executable exports its own
 * json_object (the SQL function), and the dynamic linker binds a module's
 * calls to json_object() to that one, so take jansson's from its library.
 */
json_t *
fs_json_object(void)
{
	static json_t *(*jansson_object) (void) = NULL;

	if (jansson_object == NULL)
	{
		Dl_info		info;
		void	   *lib;

		if (dladdr((void *) json_array, &info) == 0 ||
			(lib = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) == NULL ||
			(jansson_object = (json_t *(*) (void)) dlsym(lib, "json_object")) == NULL)
			elog(ERROR, "could not find jansson's json_object()");
	}
	return jansson_object();
}

/* jansson failed to allocate (it fails on nothing else). */
static void
pg_attribute_noreturn()
request_oom(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory building a DynamoDB request")));
}

/* Reset callback: drop every held reference. */
static void
json_hold_release(void *arg)
{
	FsJsonHold *h = (FsJsonHold *) arg;

	for (int i = 0; i < h->n; i++)
		json_decref(h->refs[i]);
	h->n = 0;
}

/* A holder whose references are dropped when cxt is reset or deleted. */
FsJsonHold *
fs_json_hold_create(MemoryContext cxt)
{
	FsJsonHold *h = MemoryContextAllocZero(cxt, sizeof(FsJsonHold));

	h->cap = 8;
	h->refs = MemoryContextAlloc(cxt, sizeof(json_t *) * h->cap);
	h->cb.func = json_hold_release;
	h->cb.arg = h;
	MemoryContextRegisterResetCallback(cxt, &h->cb);
	return h;
}

/* Hand a new reference to the holder; returns it for convenience. */
json_t *
fs_json_hold(FsJsonHold *h, json_t *j)
{
	if (j == NULL)
		request_oom();
	if (h->n == h->cap)
	{
		/* Keep the reference even if enlarging fails. */
		json_t	  **refs;

		PG_TRY();
		{
			refs = repalloc(h->refs, sizeof(json_t *) * h->cap * 2);
		}
		PG_CATCH();
		{
			json_decref(j);
			PG_RE_THROW();
		}
		PG_END_TRY();
		h->refs = refs;
		h->cap *= 2;
	}
	h->refs[h->n++] = j;
	return j;
}

/* A new object, held. */
json_t *
fs_held_object(FsJsonHold *h)
{
	return fs_json_hold(h, fs_json_object());
}

/* Set key to a new reference, failing loudly (jansson only fails on OOM). */
void
fs_obj_set_new(json_t *obj, const char *key, json_t *value)
{
	if (value == NULL || json_object_set_new(obj, key, value) != 0)
		request_oom();
}

/* Set key to value, which keeps its owner's reference too. */
void
fs_obj_set(json_t *obj, const char *key, json_t *value)
{
	fs_obj_set_new(obj, key, json_incref(value));
}

/* Append a new reference to an array. */
void
fs_arr_append_new(json_t *arr, json_t *value)
{
	if (value == NULL || json_array_append_new(arr, value) != 0)
		request_oom();
}

/*
 * A JSON value as a palloc'd compact string: serialised once by jansson
 * (malloc), then copied, without raising while jansson's buffer is held.
 */
char *
fs_json_to_cstring(json_t *j, size_t flags)
{
	char	   *text = json_dumps(j, JSON_COMPACT | flags);
	size_t		len;
	char	   *result = NULL;

	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not serialise a DynamoDB request")));
	len = strlen(text);
	if (len < MaxAllocSize)
		result = MemoryContextAllocExtended(CurrentMemoryContext, len + 1, MCXT_ALLOC_NO_OOM);
	if (result != NULL)
		memcpy(result, text, len + 1);
	free(text);
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory serialising a DynamoDB request of %zu bytes", len)));
	return result;
}


/* Reset callback: give the document's parser back. */
static void
json_doc_release_cb(void *arg)
{
	fs_json_doc_release((FsJsonDoc *) arg);
}

/* Parse an answer into a document of the current memory context. */
FsJsonDoc *
fs_json_doc_parse(const char *buf, size_t len, const char **error)
{
	FsJsonDoc  *doc = palloc0(sizeof(FsJsonDoc));
	bool		oom;

	doc->parser = fs_jparser_acquire();
	if (doc->parser == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory reading a DynamoDB answer")));
	doc->cb.func = json_doc_release_cb;
	doc->cb.arg = doc;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &doc->cb);
	if (fs_jparse(doc->parser, buf, len, &doc->root, error, &oom))
		return doc;
	fs_json_doc_release(doc);
	if (oom)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory reading a DynamoDB answer of %zu bytes", len)));
	return NULL;
}

/* Release a document now; its memory context's callback then does nothing. */
void
fs_json_doc_release(FsJsonDoc *doc)
{
	if (doc->parser != NULL)
		fs_jparser_release(doc->parser);
	doc->parser = NULL;
}

/* A parsed value as a new jansson value, or NULL when jansson runs out of memory. */
static json_t *
jv_to_json(const FsJv *v)
{
	FsJIter		it;
	FsJv		child;
	json_t	   *result = NULL;
	const char *s;
	size_t		len;
	long long	i;
	double		d;

	check_stack_depth();
	switch (fs_jtype(v))
	{
		case FSJ_NULL:
			return json_null();
		case FSJ_TRUE:
			return json_true();
		case FSJ_FALSE:
			return json_false();
		case FSJ_STRING:
			s = fs_jstr(v, &len);
			return json_stringn(s, len);
		case FSJ_NUMBER:
			if (fs_jint64(v, &i))
				return json_integer(i);
			return fs_jdouble(v, &d) ? json_real(d) : NULL;
		case FSJ_ARRAY:
			result = json_array();
			fs_jiter(v, &it);
			while (result != NULL && fs_jnext(&it, &child))
			{
				json_t	   *elem = jv_to_json(&child);

				if (elem == NULL || json_array_append_new(result, elem) != 0)
				{
					json_decref(result);
					result = NULL;
				}
			}
			return result;
		case FSJ_OBJECT:
			result = fs_json_object();
			fs_jiter(v, &it);
			while (result != NULL && fs_jnext_member(&it, &s, &len, &child))
			{
				json_t	   *member = jv_to_json(&child);

				if (member == NULL || json_object_setn_new(result, s, len, member) != 0)
				{
					json_decref(result);
					result = NULL;
				}
			}
			return result;
	}
	return NULL;
}

/* A parsed value as a new jansson value, failing loudly. */
json_t *
fs_jv_to_json(const FsJv *v)
{
	json_t	   *j = jv_to_json(v);

	if (j == NULL)
		request_oom();
	return j;
}

/* See ddb_json.h. */
void
fs_json_each_cached(StringInfo buf, void (*fn) (void *arg, const FsJv *item), void *arg,
					const char *what)
{
	FsJsonDoc  *doc;
	const char *error = NULL;
	FsJIter		it;
	FsJv		item;

	appendStringInfoChar(buf, ']');
	enlargeStringInfo(buf, FS_JSON_PADDING);
	memset(buf->data + buf->len, 0, FS_JSON_PADDING);
	doc = fs_json_doc_parse(buf->data, buf->len, &error);
	if (doc == NULL)
		elog(ERROR, "the cached items of %s are not JSON: %s", what, error ? error : "?");
	fs_jiter(&doc->root, &it);
	while (fs_jnext(&it, &item))
		fn(arg, &item);
	fs_json_doc_release(doc);
}

/* See ddb_json.h. */
bool
fs_json_cached_text(const FsJv *item, char **text, int *len)
{
	char		buf[FS_CACHE_ENTRY_BYTES];
	size_t		n = fs_jminify(item, buf, sizeof(buf));

	if (n == 0 || n > sizeof(buf))
		return false;
	*text = pnstrdup(buf, n);
	*len = (int) n;
	return true;
}
