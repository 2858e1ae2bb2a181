/*-------------------------------------------------------------------------
 *
 * json_doc.cpp
 *	  simdjson behind json_doc.h's C interface.
 *
 * Every call here is noexcept: simdjson's DOM interface reports errors as
 * codes and allocates with nothrow new, so nothing unwinds through C, and
 * no PostgreSQL error (a longjmp) can start here.  Values and iterators
 * cross to C as byte copies of simdjson's own trivially copyable types.
 *
 * Parsers are pooled per backend: a parser keeps the buffers of the largest
 * document it has read, so reusing one costs nothing after the first
 * answers; one that grew beyond FS_JPARSER_KEEP_BYTES is freed on release
 * rather than kept.
 *
 *-------------------------------------------------------------------------
 */
#include "json_doc.h"

#include <cstring>
#include <new>
#include <string>
#include <type_traits>

#include <simdjson.h>

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

static_assert(sizeof(element) == sizeof(FsJv) && std::is_trivially_copyable<element>::value,
			  "FsJv must hold a dom::element");
static_assert(sizeof(array::iterator) == sizeof(FsJv) &&
			  std::is_trivially_copyable<array::iterator>::value,
			  "FsJv must hold a dom::array::iterator");
static_assert(sizeof(object::iterator) == sizeof(FsJv) &&
			  std::is_trivially_copyable<object::iterator>::value,
			  "FsJv must hold a dom::object::iterator");
static_assert(simdjson::SIMDJSON_PADDING <= FS_JSON_PADDING, "FS_JSON_PADDING too small");

/* Parsers kept for reuse, and the largest capacity worth keeping. */
#define FS_JPARSER_POOL			8
#define FS_JPARSER_KEEP_BYTES	(8 * 1024 * 1024)
/* A first capacity that fits a typical BatchGetItem answer. */
#define FS_JPARSER_FIRST_BYTES	(256 * 1024)

struct FsJParser
{
	simdjson::dom::parser parser;
};

static FsJParser *pool[FS_JPARSER_POOL];
static int	npool = 0;

template<typename T>
static inline T
from_jv(const FsJv *v)
{
	T			t;

	std::memcpy(static_cast<void *>(&t), v, sizeof(T));
	return t;
}

template<typename T>
static inline void
to_jv(const T &t, FsJv *v)
{
	std::memcpy(v, static_cast<const void *>(&t), sizeof(T));
}

FsJParser *
fs_jparser_acquire(void)
{
	FsJParser  *p;

	if (npool > 0)
		return pool[--npool];
	p = new (std::nothrow) FsJParser();
	if (p == nullptr)
		return nullptr;
	if (p->parser.allocate(FS_JPARSER_FIRST_BYTES, FS_JSON_MAX_DEPTH) != simdjson::SUCCESS)
	{
		delete p;
		return nullptr;
	}
	return p;
}

void
fs_jparser_release(FsJParser *p)
{
	if (p == nullptr)
		return;
	if (npool < FS_JPARSER_POOL && p->parser.capacity() <= FS_JPARSER_KEEP_BYTES)
		pool[npool++] = p;
	else
		delete p;
}

bool
fs_jparse(FsJParser *p, const char *buf, size_t len, FsJv *root,
		  const char **error, bool *oom)
{
	element		e;
	simdjson::error_code err;

	*oom = false;
	/* The buffer is padded (FS_JSON_PADDING): no copy. */
	err = p->parser.parse(buf, len, false).get(e);
	if (err != simdjson::SUCCESS)
	{
		*oom = (err == simdjson::MEMALLOC);
		*error = simdjson::error_message(err);
		return false;
	}
	to_jv(e, root);
	return true;
}

/* The type of an element. */
static inline FsJType
type_of(const element &e)
{
	switch (e.type())
	{
		case element_type::ARRAY:
			return FSJ_ARRAY;
		case element_type::OBJECT:
			return FSJ_OBJECT;
		case element_type::STRING:
			return FSJ_STRING;
		case element_type::BOOL:
			return e.get_bool().value_unsafe() ? FSJ_TRUE : FSJ_FALSE;
		case element_type::NULL_VALUE:
			return FSJ_NULL;
		default:
			return FSJ_NUMBER;
	}
}

FsJType
fs_jtype(const FsJv *v)
{
	return type_of(from_jv<element>(v));
}

bool
fs_jsingle(const FsJv *obj, const char **key, size_t *keylen, FsJv *val, FsJType *valtype)
{
	object		o;
	object::iterator it;
	std::string_view k;
	element		e;

	if (from_jv<element>(obj).get_object().get(o) != simdjson::SUCCESS || o.size() != 1)
		return false;
	it = o.begin();
	k = it.key();
	*key = k.data();
	*keylen = k.size();
	e = it.value();
	*valtype = type_of(e);
	to_jv(e, val);
	return true;
}

const char *
fs_jstr(const FsJv *v, size_t *len)
{
	std::string_view s;

	if (from_jv<element>(v).get_string().get(s) != simdjson::SUCCESS)
	{
		*len = 0;
		return nullptr;
	}
	*len = s.size();
	return s.data();
}

size_t
fs_jsize(const FsJv *v)
{
	element		e = from_jv<element>(v);
	array		a;
	object		o;

	if (e.get_array().get(a) == simdjson::SUCCESS)
		return a.size();
	if (e.get_object().get(o) == simdjson::SUCCESS)
		return o.size();
	return 0;
}

bool
fs_jget(const FsJv *obj, const char *key, size_t keylen, FsJv *out)
{
	object		o;
	bool		found = false;

	if (from_jv<element>(obj).get_object().get(o) != simdjson::SUCCESS)
		return false;
	/* The last of a repeated name, as jansson and JSON.parse keep it. */
	for (auto field : o)
	{
		if (field.key.size() == keylen && std::memcmp(field.key.data(), key, keylen) == 0)
		{
			to_jv(field.value, out);
			found = true;
		}
	}
	return found;
}

void
fs_jiter(const FsJv *container, FsJIter *it)
{
	element		e = from_jv<element>(container);
	array		a;
	object		o;

	if (e.get_array().get(a) == simdjson::SUCCESS)
	{
		to_jv(a.begin(), &it->cur);
		to_jv(a.end(), &it->end);
	}
	else if (e.get_object().get(o) == simdjson::SUCCESS)
	{
		to_jv(o.begin(), &it->cur);
		to_jv(o.end(), &it->end);
	}
	else
		it->cur = it->end = *container;
}

bool
fs_jnext(FsJIter *it, FsJv *out)
{
	array::iterator cur = from_jv<array::iterator>(&it->cur);

	if (cur == from_jv<array::iterator>(&it->end))
		return false;
	to_jv(*cur, out);
	++cur;
	to_jv(cur, &it->cur);
	return true;
}

bool
fs_jnext_member(FsJIter *it, const char **key, size_t *keylen, FsJv *out)
{
	object::iterator cur = from_jv<object::iterator>(&it->cur);
	std::string_view k;

	if (cur == from_jv<object::iterator>(&it->end))
		return false;
	k = cur.key();
	*key = k.data();
	*keylen = k.size();
	to_jv(cur.value(), out);
	++cur;
	to_jv(cur, &it->cur);
	return true;
}

bool
fs_jdouble(const FsJv *v, double *out)
{
	return from_jv<element>(v).get_double().get(*out) == simdjson::SUCCESS;
}

bool
fs_jint64(const FsJv *v, long long *out)
{
	int64_t		i;

	if (from_jv<element>(v).get_int64().get(i) != simdjson::SUCCESS)
		return false;
	*out = i;
	return true;
}

/* See json_doc.h. */
size_t
fs_jminify(const FsJv *v, char *buf, size_t cap)
{
	try
	{
		std::string text = simdjson::minify(from_jv<element>(v));

		if (text.size() <= cap)
			memcpy(buf, text.data(), text.size());
		return text.size();
	}
	catch (...)
	{
		return 0;
	}
}
