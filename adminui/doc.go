// Package adminui is the frontend-admin: the owner's and tenant admins'
// console, server-rendered with html/template. Templates and static files
// (one stylesheet, one icon; no JavaScript, no fonts, nothing from a CDN) are
// embedded in the binary.
//
// The UI holds no data of its own. Every page is a few calls to the backend
// JSON API through Client, with the user's token. Client is the same in both
// deployments: over HTTP to --backend-url in role frontend-admin, and through
// HandlerTransport into the in-process API handler in role all.
//
// Session safety: the token lives in an HttpOnly, SameSite=Strict cookie,
// named __Host-casino_session and Secure over HTTPS (casino_session over plain
// HTTP). Every POST passes http.CrossOriginProtection; GET never changes
// state. Every answer carries a CSP without inline script and with
// frame-ancestors 'none', nosniff and a Referrer-Policy. A 401 from the
// backend sends the user back to the login page with a message; an
// unreachable backend gets a 503 "Backend unavailable" page.
//
// Stable element ids and names, relied on by the browser tests and by
// `casino dr validate --browser` (keep them):
//
//	/login                  form #login-form, inputs name=email (#email) and
//	                        name=password (#password), button #login-submit,
//	                        inline error #login-error, note #login-note
//	/tenants                table #tenants (one tr[data-slug] per tenant),
//	                        owner's create form #create-tenant (#name, #slug)
//	/tenants/{id}           #tenant-name, #tenant-status, table #admins,
//	                        table #tenant-settings
//	/settings               table #settings, form #setting-form
//	/settings/versions      #current-version, #current-commit, #schema-version,
//	                        table #versions (history)
//	/audit                  filter form #audit-filter (name=tenant, action,
//	                        since, until), table #audit
//	every signed-in page    sign-out form #logout-form with button #logout,
//	                        role label #role, banners .banner, flash #flash
//	error pages             #status-code, #error-title, #error-message
package adminui
