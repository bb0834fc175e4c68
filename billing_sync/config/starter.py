"""The commented starter billing.yaml that `billing-sync init` writes (it validates as it is)."""

STARTER = """\
# billing.yaml: your Stripe catalog and contracted subscriptions, as code.
#
#   billing-sync validate      check this file (every error with file:line:column)
#   billing-sync plan          what apply would change in Stripe (read-only)
#   billing-sync apply         make the change (asks for `yes`; CI: --auto-approve)
#
# Every field, default and rule: docs/billing-yaml.md in the billing-sync repository.
# Editor help (completion, inline checks):
#   billing-sync schema > billing.schema.json
# and put this line first (VS Code's YAML extension and other yaml-language-server editors):
#   # yaml-language-server: $schema=./billing.schema.json
version: 1

products:
  # The key (`starter`) is the Stripe product id unless `id:` says otherwise.
  starter:
    name: Starter
    description: Everything a small team needs
    default_price: starter-monthly
    # features: [sso]                 # the entitlement features it grants (see features:)
    prices:
      # The price key is its lookup_key, so apps can fetch the price by name.
      starter-monthly:
        amount: "19.00"              # major units, quoted; or unit_amount: 1900 (cents)
        currency: usd                # lower case
        recurring: {interval: month}
      starter-yearly:
        amount: "190.00"
        currency: usd
        recurring: {interval: year}
      # Omit `recurring` for a one-time price:
      # setup-fee: {amount: "99.00", currency: usd}
      # A metered price bills the usage a meter (see meters:) adds up each period:
      # api-calls:
      #   amount: "0.002"              # per call
      #   currency: usd
      #   recurring: {interval: month, usage_type: metered, meter: api_calls}

# Usage meters (optional), for metered prices. The key is the event name your application
# reports usage as; `billing-sync meters report api_calls --customer KEY --value 1` sends one.
meters: {}
#  api_calls:
#    display_name: API calls
#    default_aggregation: {formula: sum}   # or count, last; fixed at creation

# Entitlement features (optional): what your application checks, by lookup key (the feature
# key unless `lookup_key:` is given), to gate functionality. Products grant them (features:).
features: {}
#  sso:
#    name: Single sign-on

# Coupons (optional): discount terms. The key is the Stripe coupon id unless `id:` is given.
coupons: {}
#  launch:
#    name: Launch offer
#    percent_off: 20                   # or amount_off: 500 (minor units) with currency: usd
#    duration: repeating               # once (default), repeating or forever
#    duration_in_months: 3
#    applies_to: {products: [starter]}

# Promotion codes (optional): codes customers type to redeem a coupon.
promotion_codes: {}
#  launch-code:
#    coupon: launch
#    code: LAUNCH20
#    max_redemptions: 100
#    restrictions: {first_time_transaction: true}

# Tax rates (optional): manual rates for subscriptions (default_tax_rates:). Percentage and
# inclusive are fixed by Stripe: changing one creates a new rate and moves the subscriptions.
tax_rates: {}
#  vat-de:
#    display_name: VAT
#    percentage: 19
#    inclusive: false
#    country: DE
#    tax_type: vat

# Customers and their contracted subscriptions (optional). Removing a subscription later
# cancels it (see policies.subscription_removal); customers are never deleted.
customers: {}
#  acme:
#    email: billing@acme.example
#    name: Acme Inc
#    subscriptions:
#      main:
#        items: [{price: starter-monthly, quantity: 5}]
#        collection_method: send_invoice
#        days_until_due: 30
#        discounts: [{promotion_code: launch-code}]   # or {coupon: launch}
#        default_tax_rates: [vat-de]
#        protect: true                # removing or shrinking it needs --allow-destroy

policies:
  subscription_removal: cancel_at_period_end   # or cancel_now, or unmanage
  proration_behavior: create_prorations
  # apply refuses plans that archive or cancel more than this share of managed objects
  # unless --allow-destroy is given, and plans that update or replace more than this share
  # unless --allow-mass-update is given; neither applies below min_objects_for_thresholds.
  max_destroy_percent: 30
  max_update_percent: 30
  min_objects_for_thresholds: 10
"""
