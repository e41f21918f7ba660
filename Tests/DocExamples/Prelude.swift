// What the documentation's examples take as given (a store, orders, the application's own
// functions), so that `check.sh` can type-check every example as the user would write it.
import Logging
import Reservoir
import ServiceLifecycle

struct Order {
    var user: String
    var json: String
}

let orders: [Order] = []
let incoming: [[Order]] = []
let batch: [Record] = []

func charge(_ record: ConsumerRecord) async throws {}
func send(_ record: ConsumerRecord) async throws {}

/// The open store the examples after the first use (only type-checked, never run).
var store: Reservoir { fatalError("examples are type-checked, not run") }

/// The application's own service (an HTTP server, say) and logger.
struct API: Service { func run() async throws {} }
let api = API()
let logger = Logger(label: "shop")
