/* tests/fuzz/fuzz_rest_response.c -- libFuzzer target for the REST
 * connector's response path: strict bounded parsing of a body, the record
 * array and paging values at their paths, and flattening every record into
 * fields, as a list page or a changes-feed page goes through it; and the
 * comparison of a fetched record's collection (a cardholder's cards) with
 * wanted keys, as a push with `reconcile` does. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "connectors/rest/restjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mid_error_t err = { 0 };
	rj_fields_t f = { 0 };
	char buf[256];
	static const char *const omit[] = { "meta.location", "schemas" };
	json_t *doc = rj_parse((const char *)data, size, 32, &err);
	if (!doc)
		return 0;
	rj_path_text(doc, "totalResults", buf, sizeof buf);
	rj_path_text(doc, "next.href", buf, sizeof buf);
	rj_path_text(doc, "[urn:a.b].c.0", buf, sizeof buf);
	const char *paths[] = { "Resources", "results", "" };
	for (size_t p = 0; p < 3; p++) {
		json_t *arr = rj_path_get(doc, paths[p]);
		size_t i;
		json_t *rec;
		if (!json_is_array(arr))
			continue;
		json_array_foreach(arr, i, rec) {
			rj_path_text(rec, "id", buf, sizeof buf);
			if (rj_flatten(rec, omit, 2, 32, &f, &err) == MID_OK)
				for (size_t k = 0; k < f.n; k++)
					(void)strlen(f.f[k].name);
			json_t *inner = rj_path_get(rec, "cardholder");
			if (json_is_object(inner))
				rj_flatten(inner, NULL, 0, 32, &f, &err);
		}
	}
	/* reconcile: a fetched record's collection against wanted keys */
	{
		static const char *const want[] = { "1", "42", "", "42" };
		unsigned char miss[4];
		json_t **rem = NULL;
		size_t nrem = 0;
		rj_recon_t r = { "cards", "type.href", "https://h:8904/api/card_types/654", 1, "number", 1000 };
		for (int pass = 0; pass < 2; pass++) {
			if (rj_reconcile(doc, &r, want, 4, miss, &rem, &nrem, &err) == MID_OK)
				for (size_t k = 0; k < nrem; k++)
					rj_path_text(rem[k], "href", buf, sizeof buf);
			free(rem);
			rem = NULL;
			r.items = "";
			r.sel_path = NULL;
			r.key = "id";
		}
		rj_href_same_path(buf, "/api/card_types/654");
	}
	rj_fields_free(&f);
	json_decref(doc);
	return 0;
}
