package api_test

import (
	"strings"
	"testing"

	"casino"
	"casino/api"
)

func TestDecodeReader(t *testing.T) {
	t.Parallel()
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	cases := []struct {
		in, code, field string
	}{
		{`{"name":"a","count":1}`, "", ""},
		{``, casino.EINVALID, ""},
		{`{"name":`, casino.EINVALID, ""},
		{`{"name":"a"} {"name":"b"}`, casino.EINVALID, ""},
		{`{"name":1}`, casino.EINVALID, "name"},
		{`{"count":"x"}`, casino.EINVALID, "count"},
		{`{"nope":1}`, casino.EINVALID, "nope"},
		{`[1,2]`, casino.EINVALID, ""},
		{`nul`, casino.EINVALID, ""},
	}
	for _, c := range cases {
		var b body
		err := api.DecodeReader(strings.NewReader(c.in), &b)
		if got := casino.ErrorCode(err); got != c.code {
			t.Errorf("%q: code %q, want %q (%v)", c.in, got, c.code, err)
		}
		if c.field != "" {
			e, _ := err.(*casino.Error)
			if e == nil || e.Fields[c.field] == "" {
				t.Errorf("%q: want a message for field %q, got %v", c.in, c.field, err)
			}
		}
	}
}
