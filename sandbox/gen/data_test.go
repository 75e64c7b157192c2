package gen

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

// The writer appends table strings without escaping; make sure none needs it.
func TestTablesNeedNoEscaping(t *testing.T) {
	var all []string
	for _, w := range [][]word{firstNames, lastNames, companyHeads, companyTails} {
		for _, x := range w {
			all = append(all, x.text, x.slug)
		}
	}
	for _, c := range countries {
		all = append(all, c.code, c.suffix, c.tld)
		for _, p := range c.places {
			all = append(all, p.city, p.state, p.zip)
		}
	}
	for _, p := range plans {
		all = append(all, p.id, p.name, p.unit)
	}
	for _, c := range coupons {
		all = append(all, c.code, c.description)
	}
	for _, s := range all {
		if got := string(appendString(nil, s)); got != `"`+s+`"` {
			t.Errorf("table string %q needs escaping: %s", s, got)
		}
	}
	slug := regexp.MustCompile(`^[a-z]+$`)
	for _, w := range [][]word{firstNames, lastNames, companyHeads, companyTails} {
		for _, x := range w {
			if !slug.MatchString(x.slug) {
				t.Errorf("slug %q of %q is not lowercase ASCII letters", x.slug, x.text)
			}
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "ctl\x00\x01\x1f\n\r\t", "ütf-8 ✓ 😀",
		"bad \xff\xfe utf8", "\u2028\u2029", "<html>&amp;"} {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("appendString(%q) = %s: %v", s, b, err)
			continue
		}
		// encoding/json replaces each invalid byte with U+FFFD, as appendString does.
		ref, _ := json.Marshal(s)
		var want string
		json.Unmarshal(ref, &want)
		if got != want {
			t.Errorf("appendString(%q) round-trips to %q", s, got)
		}
	}
}

func TestAppendTime(t *testing.T) {
	tm := time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)
	if got := string(appendTime(nil, tm, styleSpace)); got != "2024-03-05 07:08:09" {
		t.Errorf("space style: %s", got)
	}
	if got := string(appendTime(nil, tm, styleISO)); got != "2024-03-05T07:08:09Z" {
		t.Errorf("ISO style: %s", got)
	}
}

func TestAddMonths(t *testing.T) {
	anchor := time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)
	want := []string{"2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2025-02-28", "2023-12-31"}
	for i, n := range []int{0, 1, 2, 3, 13, -1} {
		if got := addMonths(anchor, n).Format(time.DateOnly); got != want[i] {
			t.Errorf("addMonths(%d) = %s, want %s", n, got, want[i])
		}
	}
}
