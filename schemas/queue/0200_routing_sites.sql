-- Sites and cost windows in the routing configuration edited through the
-- API, as the configuration file has them: the sites that reach a gateway
-- or may use a route (empty: every site), a cost added per site
-- ({"site": cost}), and a route's cost windows
-- ([{"days": ["mon"], "from": "18:00", "to": "08:00", "cost": 0.5}]).
-- The API validates them; the checks here only keep the shapes.
ALTER TABLE gateways
    ADD COLUMN sites text[] NOT NULL DEFAULT '{}',
    ADD COLUMN site_costs jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(site_costs) = 'object');
ALTER TABLE routes
    ADD COLUMN sites text[] NOT NULL DEFAULT '{}',
    ADD COLUMN site_costs jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(site_costs) = 'object'),
    ADD COLUMN windows jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(windows) = 'array');
